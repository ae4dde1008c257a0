package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/poolrun/poolrun/jobserver"
	"github.com/poolrun/poolrun/semlock"
)

// Background mode, GNU sem's default: sem holds a slot, starts a holder
// and returns at once; the holder runs the command and gives the slot
// back when it ends.
//
// The holder is this binary again (a Go process cannot fork without
// exec), started in a session of its own (setsid: it has no controlling
// terminal, so closing sem's terminal does not hang it up, and Ctrl-C in
// the shell does not reach it), with sem's stdin, stdout and stderr as
// GNU sem's background job has them. On Linux it shares sem's SysV undo
// list (CLONE_SYSVSEM): the slot sem took passes to it with no moment in
// which nobody holds it, and the kernel gives it back when the holder and
// the command, which shares the list too, have both exited, however they
// end. Elsewhere the holder takes the slot anew (Force) before sem exits.
// The holder reports on a pipe that it holds the slot; sem returns then.

// semHoldEnv names the set the holder holds: "ID.TOKEN.NAME".
const semHoldEnv = "POOLRUN_SEM_HOLD"

// semTokenEnv tells the holder of a sem under make's jobserver where its
// token comes from and goes: "VERDICT,TOKEN,OWN", the descriptor sem
// writes the token's byte on ("tok N", or "stop"), the descriptor it
// writes the byte back to when the command has ended, and whether that
// one is its own (1: close-on-exec) or make's pipe, which the command
// inherits as make's jobserver, at the descriptors MAKEFLAGS names.
const semTokenEnv = "POOLRUN_SEM_TOKEN"

// semBackground starts the holder of c for o's command and returns sem's
// exit status: 0 once the holder holds the slot — and, under make's
// jobserver (js), once sem has read a token of make's for the command,
// or the command has ended first.
//
// Under make, the command starts on the recipe's implicit token while
// sem waits for a token of make's: the recipe's shell is blocked in sem
// and runs nothing meanwhile. When sem has read one it hands the byte to
// the holder, which writes it back when the command ends, and returns:
// from then on the recipe runs on its implicit token again and the
// command on make's. A command that ends before any token came frees the
// implicit one, and sem returns without reading. So at no moment do the
// recipe and its command run on one token, and sem never deadlocks: with
// make -jN and N recipes each in a background sem, every token of make's
// is held by a recipe that waits in sem, and a sem that waited for a
// token before starting its command would wait for ever.
func semBackground(c *semlock.Tally, o *semOptions, args []string, js *jobserver.Client) int {
	exe, err := os.Executable()
	if err != nil {
		return semFail(fmt.Errorf("sem: cannot find this binary to start the background job: %w", err))
	}
	if _, err := os.Stat("/proc/self/exe"); err == nil {
		exe = "/proc/self/exe" // the very image that runs, even if its file was replaced
	}
	r, w, err := os.Pipe()
	if err != nil {
		return semFail(fmt.Errorf("sem: %w", err))
	}
	defer r.Close()
	env := os.Environ()
	if c != nil {
		h := c.Handle()
		env = append(env, semHoldEnv+"="+strconv.Itoa(h.ID)+"."+strconv.FormatUint(uint64(h.Token), 10)+"."+h.Name)
	}
	files := map[int]*os.File{}
	alloc := func(f *os.File) int {
		for fd := 3; ; fd++ {
			if files[fd] == nil {
				files[fd] = f
				return fd
			}
		}
	}
	var verdict *os.File // sem's end of the holder's verdict pipe
	if js != nil || c == nil {
		// The verdict pipe: make's token goes to the holder on it, and its
		// end before the holder says ok tells an etcd holder (which waits
		// for the slot itself) that sem is gone.
		vr, vw, err := os.Pipe()
		if err != nil {
			return semFail(fmt.Errorf("sem: %w", err))
		}
		defer vr.Close()
		verdict = vw
		tokFd, own := -1, 1
		if js != nil {
			a := js.Auth()
			if a.Style == jobserver.Pipe && a.R > 2 && a.W > 2 {
				// make's pipe, where MAKEFLAGS says it is: the command's
				// jobserver too, as in a + recipe.
				files[a.R], files[a.W] = os.NewFile(uintptr(a.R), "jobserver"), os.NewFile(uintptr(a.W), "jobserver")
				tokFd, own = a.W, 0
			} else {
				p := a.Path
				if a.Style == jobserver.Pipe {
					p = "/proc/self/fd/" + strconv.Itoa(a.W)
				}
				f, err := os.OpenFile(p, os.O_RDWR, 0)
				if err != nil {
					return semFail(fmt.Errorf("sem: opening make's jobserver for the background job: %w", err))
				}
				defer f.Close()
				tokFd = alloc(f)
			}
		}
		env = append(env, fmt.Sprintf("%s=%d,%d,%d", semTokenEnv, alloc(vr), tokFd, own))
	}
	reportFd := alloc(w)
	extra := []*os.File{}
	for fd, f := range files {
		for len(extra) <= fd-3 {
			extra = append(extra, nil)
		}
		extra[fd-3] = f
	}
	cmd := &exec.Cmd{Path: exe, Args: append([]string{"sem", holderFlag, strconv.Itoa(reportFd)}, args...),
		Env:   env,
		Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr,
		ExtraFiles: extra, SysProcAttr: semProcAttr(true)}
	err = cmd.Start()
	w.Close()
	if err != nil {
		if verdict != nil {
			verdict.Close()
		}
		return semFail(fmt.Errorf("sem: starting the background job: %w", err))
	}
	// The holder is on its own from here: it is not waited for (init or a
	// subreaper reaps it), as GNU sem's background job is not.
	if c != nil {
		r.SetReadDeadline(time.Now().Add(30 * time.Second))
	} // else the holder waits for an etcd cap's slot: as long as it takes
	br := bufio.NewReader(r)
	line, _ := br.ReadString('\n')
	cmd.Process.Release()
	if v, ok := strings.CutPrefix(line, "exit "); ok {
		verdict.Close()
		n, _ := strconv.Atoi(strings.TrimSpace(v))
		return n // the holder said why
	}
	if line != "ok\n" {
		if verdict != nil {
			verdict.Close()
		}
		msg := strings.TrimSpace(strings.TrimPrefix(line, "error "))
		if msg == "" {
			msg = "it exited before taking the slot"
		}
		return semFail(fmt.Errorf("sem: the background job: %s", msg))
	}
	if js == nil {
		if verdict != nil {
			verdict.Close()
		}
		return 0
	}
	r.SetReadDeadline(time.Time{})
	return semTakeToken(js, br, verdict)
}

// semTakeToken waits, with the command started, for a token of make's
// (js) and hands it to the holder on verdict, unless the holder says
// first (on report) that the command has ended, or has died. A SIGINT,
// SIGTERM or SIGHUP to sem meanwhile stops the command (it would run on
// the implicit token of a recipe that no longer waits), and sem exits
// 128+N.
func semTakeToken(js *jobserver.Client, report *bufio.Reader, verdict *os.File) int {
	defer verdict.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		report.ReadString('\n') // "done", or the end: the holder is gone
		cancel()
	}()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)
	var got atomic.Int32
	go func() {
		select {
		case sg := <-sigs:
			got.Store(int32(sg.(syscall.Signal)))
			cancel()
		case <-ctx.Done():
		}
	}()
	b, err := js.AcquireToken(ctx)
	switch {
	case err == nil:
		if _, werr := fmt.Fprintf(verdict, "tok %d\n", b); werr != nil {
			// The holder is gone (SIGKILLed): the token is sem's to give.
			if gerr := js.GiveBack(b); gerr != nil {
				fmt.Fprintf(os.Stderr, "poolrun: sem: %v\n", gerr)
			}
		}
	case ctx.Err() == nil:
		fmt.Fprintf(os.Stderr, "poolrun: warning: sem: %v: the command runs without a token of make's\n", err)
	}
	if sg := got.Load(); sg != 0 {
		fmt.Fprint(verdict, "stop\n")
		return 128 + int(sg)
	}
	return 0
}

// semHolderMain is the holder: it takes over the slot, reports, runs the
// command, prints its output, gives the slot back, and removes the set if
// it was the last user. Under make's jobserver (semTokenEnv) it also
// gives back the token sem hands it once the command has ended — before
// the slot, so that a sem --wait that returns finds every token back —
// and a SIGTERM or SIGINT to it stops the command (TERM, TERM, KILL),
// gives the token back and exits 128+N.
func semHolderMain(o *semOptions) int {
	report := os.NewFile(uintptr(o.holderFd), "report")
	if report == nil {
		return 255
	}
	fail := func(err error) int {
		fmt.Fprintf(report, "error %v\n", err)
		report.Close()
		return 255
	}
	hold := os.Getenv(semHoldEnv)
	os.Unsetenv(semHoldEnv) // not the command's
	tokSpec, withToken := os.LookupEnv(semTokenEnv)
	os.Unsetenv(semTokenEnv)
	etcd := isEtcd(o.id)
	var c *semlock.Tally
	if !etcd {
		var err error
		if c, err = attachHeld(hold); err != nil {
			return fail(err)
		}
		if !semSharesUndo {
			if err := c.Force(context.Background()); err != nil {
				return fail(err)
			}
		}
	}
	job, err := newSemJob(o)
	if err != nil {
		return fail(err)
	}
	if !withToken {
		fmt.Fprint(report, "ok\n")
		report.Close()
		status := job.run()
		semLeave(c)
		return status
	}
	ht, err := newHolderToken(tokSpec)
	if err != nil {
		return fail(err)
	}
	unix.CloseOnExec(o.holderFd)
	job.stop = make(chan os.Signal, 2)
	signal.Notify(job.stop, syscall.SIGTERM, syscall.SIGINT)
	go ht.read(job.stop)
	ended := func() {
		fmt.Fprint(report, "done\n") // sem, if it still waits for a token, stops waiting
		report.Close()
		ht.giveBack()
	}
	if etcd {
		return semEtcdHolder(o, job, report, ht, ended)
	}
	fmt.Fprint(report, "ok\n")
	status := job.run()
	signal.Stop(job.stop)
	ended()
	semLeave(c)
	return status
}

// semEtcdHolder is the background holder of a slot of an etcd cap: it
// starts the helper, takes the slot (sem waits for its "ok", or the
// "exit N" of a failure it has told), runs the command fenced, and gives
// back make's token (if any: ended), the slot and the helper.
func semEtcdHolder(o *semOptions, job *semJob, report *os.File, ht *holderToken, ended func()) int {
	limit := 1
	if o.jobs != "" {
		limit, _ = parseSemJobs(o.jobs, runtime.NumCPU()) // sem checked it
	}
	exit := func(n int) int {
		fmt.Fprintf(report, "exit %d\n", n)
		report.Close()
		return n
	}
	rc, err := semEtcdOpen(o, o.id, limit)
	if err != nil {
		return exit(semFail(err))
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-ht.done; cancel() }() // sem gone before ok: stop waiting
	s, status := semEtcdEnter(ctx, rc, o.id, o.st)
	if status >= 0 {
		rc.Close()
		return exit(status)
	}
	fmt.Fprint(report, "ok\n")
	return semEtcdRun(job, rc, s, ended)
}

// holderToken is the holder's side of make's token (semTokenEnv).
type holderToken struct {
	verdict *os.File
	tok     *os.File
	done    chan struct{} // the verdict has ended
	mu      sync.Mutex
	b       byte
	has     bool
}

func newHolderToken(spec string) (*holderToken, error) {
	f := strings.Split(spec, ",")
	n := [3]int{-1, -1, -1}
	for i := 0; i < len(n) && len(f) == 3; i++ {
		if v, err := strconv.Atoi(f[i]); err == nil {
			n[i] = v
		}
	}
	if n[0] < 3 || n[1] < 3 && n[1] != -1 || n[2] < 0 {
		return nil, fmt.Errorf("%s=%q: not VERDICT,TOKEN,OWN (it is poolrun's own variable)", semTokenEnv, spec)
	}
	h := &holderToken{verdict: os.NewFile(uintptr(n[0]), "verdict"), done: make(chan struct{})}
	unix.CloseOnExec(n[0])
	if n[1] >= 0 {
		h.tok = os.NewFile(uintptr(n[1]), "jobserver")
		if n[2] == 1 {
			unix.CloseOnExec(n[1])
		}
	}
	return h, nil
}

// read takes sem's verdict: the token's byte ("tok N"), and "stop" (sem
// was signalled), which stops the command.
func (h *holderToken) read(stop chan os.Signal) {
	defer close(h.done)
	sc := bufio.NewScanner(h.verdict)
	for sc.Scan() {
		line := sc.Text()
		if v, ok := strings.CutPrefix(line, "tok "); ok {
			if b, err := strconv.ParseUint(v, 10, 8); err == nil {
				h.mu.Lock()
				h.b, h.has = byte(b), true
				h.mu.Unlock()
			}
		} else if line == "stop" {
			select {
			case stop <- syscall.SIGTERM:
			default:
			}
		}
	}
}

// giveBack waits for sem's verdict to end (sem stops waiting for a token
// once told the command is done; bounded, should it be stopped) and
// writes the token back, if sem handed one.
func (h *holderToken) giveBack() {
	select {
	case <-h.done:
	case <-time.After(time.Minute):
		// sem is stuck: it gives a token it reads later back itself (its
		// write to the verdict fails once this process is gone).
	}
	h.mu.Lock()
	b, has := h.b, h.has
	h.has = false
	h.mu.Unlock()
	if has && h.tok != nil {
		if _, err := h.tok.Write([]byte{b}); err != nil {
			fmt.Fprintf(os.Stderr, "poolrun: sem: giving make's token back: %v\n", err)
		}
	}
}

// attachHeld attaches the set semHoldEnv names, verified.
func attachHeld(v string) (*semlock.Tally, error) {
	idS, rest, _ := strings.Cut(v, ".")
	tokS, name, _ := strings.Cut(rest, ".")
	id, err1 := strconv.Atoi(idS)
	tok, err2 := strconv.ParseUint(tokS, 10, 32)
	if err1 != nil || err2 != nil || name == "" {
		return nil, fmt.Errorf("%s=%q: not ID.TOKEN.NAME (it is poolrun's own variable)", semHoldEnv, v)
	}
	h, err := semlock.LookupName(name)
	if err != nil {
		return nil, err
	}
	if h.ID != id || h.Token != uint32(tok) {
		return nil, fmt.Errorf("the semaphore %s was removed and made again meanwhile", name)
	}
	return semlock.AttachTally(h)
}
