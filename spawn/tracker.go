package spawn

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/poolrun/poolrun/internal/handlewire"
	"github.com/poolrun/poolrun/internal/procstart"
	"github.com/poolrun/poolrun/rebuild"
	"github.com/poolrun/poolrun/semlock"
)

// A tracker is a re-exec of this binary in the tracker role. This process
// tells it, one line per event over a pipe, which private sets and which
// child process groups it has:
//
//	S+ KEY,ID,KIND,MAX,UNDO,CREATOR,TOKEN   a set (rebuild's handle format)
//	S- ID                                  the set was removed or untracked
//	G+ PGID                                a child's process group
//	G- PGID                                the child was reaped
//	R                                      you report the cleanup on stderr
//	K MS                                   how long to wait for a set's live last user (keepWait)
//	P+ PATH                                a path to remove (TrackPath: a jobserver's fifo directory)
//	P- PATH                                the path was removed or untracked
//
// Only this process holds the pipe's write end (O_CLOEXEC: children do not
// inherit it), so the tracker reads EOF exactly when this process is gone,
// however it died. It then SIGKILLs the groups still registered and removes
// the sets still registered, each re-verified first (semlock.Attach checks
// the generation token: a set whose id was reused is never touched, and a
// named set is never registered), then exits.
//
// Twins. A lone tracker leaves a window: if it is killed, and this process
// dies before a new one has been told everything, the sets stay until
// poolrun sem gc and the groups' grandchildren live on. So two trackers
// run from the first use on, each sent every line (one more pipe write per
// event, about a microsecond), and either one alone cleans up everything:
// whichever of the three processes dies first, nothing is left. On this
// process's death both clean up at once; that is safe, as every step is
// idempotent (a second SIGKILL to a dying group; a set the twin removed
// first is seen to be gone, and a set whose id was reused is never
// touched, as above). Only the tracker sent "R" writes the report, so it is
// printed once.
//
// When a tracker dies, a goroutine waiting for its exit (on its pidfd, in
// the poller) sees it at once and starts a replacement right away, not at
// the next Track or Cmd.Start: everything registered is written into the
// replacement's pipe before it is even forked, so from its first instant
// it holds the whole state (a state larger than the pipe's buffer, over a
// thousand entries, is partly written just after the fork). The twin's
// role as reporter, if the dead one had it, passes to the survivor at the
// same time.
//
// What remains, precisely: (1) both trackers dying within the time this
// process takes to notice and fork a replacement (its goroutine's wake-up
// and one fork, about 0.1-1 ms; more under heavy load), followed by this
// process's death before the replacement exists: the sets are then left
// for Sweep. (2) At first use, the twin is started in the background just
// after the first tracker: until its fork the first tracker is alone, as
// in (1). (3) More than five tracker starts within a second (something
// keeps killing them) postpones further starts to the next second, and a
// tracker that keeps failing to start (it never reaches its handshake) is
// retried with a growing pause, up to 30 s. (4) A child's group is
// registered when Cmd.Start has forked and exec'd it: a grandchild that
// the child forks before this process has written the line (a few
// microseconds) is not covered if this process dies in that instant.
var tracker struct {
	mu      sync.Mutex
	procs   []*trackerProc // the live trackers, oldest first
	refill  bool           // a start of missing twins is scheduled
	window  time.Time      // when the rate limit's current second began
	starts  int            // trackers started within it
	fails   int            // trackers in a row that ended before their handshake
	lost    error          // why the last tracker went away or could not start
	sets    map[int]semlock.Handle
	groups  map[int]bool
	paths   map[string]bool // TrackPath's
	keepFor time.Duration   // keepWait, for trackers started from now on (tests shorten it)
}

// trackerProc is one running tracker.
type trackerProc struct {
	proc     *os.Process
	w        *os.File // its command pipe's write end
	reporter bool     // it was sent "R"
}

const (
	// twins is how many trackers run at once.
	twins = 2
	// maxStarts bounds the trackers started within one second.
	maxStarts = 5
	// maxBackoff bounds the pause before retrying a tracker that keeps
	// failing to start.
	maxBackoff = 30 * time.Second
)

// ErrTracker: the tracker could not be started, or died and could not be
// restarted; sets and groups are then not cleaned up if this process dies
// (Sweep, poolrun sem gc, still removes orphaned sets).
var ErrTracker = errors.New("spawn: tracker unavailable")

// Track registers a private set with this process's trackers, which
// remove it if this process dies before Untrack (or RemoveTracked). A
// named set is never tracked (Track is a no-op): it outlives its creator
// by design. The first call starts the trackers, re-execs of this binary:
// a process that never called Dispatch gets ErrNoDispatch.
func Track(s *semlock.SemLock) error {
	h := s.Handle()
	if h.Name != "" || h.Key != 0 {
		return nil
	}
	enc, err := handlewire.Encode(h)
	if err != nil {
		return fmt.Errorf("spawn: track set %d: %w", h.ID, err)
	}
	tracker.mu.Lock()
	defer tracker.mu.Unlock()
	initLocked()
	if err := sendLocked("S+ " + enc); err != nil {
		return fmt.Errorf("spawn: track set %d: %w", h.ID, err)
	}
	tracker.sets[h.ID] = h
	return nil
}

// Untrack tells the trackers to forget a set (they will not remove it). A
// set that is not tracked is a no-op.
func Untrack(s *semlock.SemLock) error {
	h := s.Handle()
	tracker.mu.Lock()
	defer tracker.mu.Unlock()
	if _, ok := tracker.sets[h.ID]; !ok {
		return nil
	}
	delete(tracker.sets, h.ID)
	if err := sendLocked("S- " + strconv.Itoa(h.ID)); err != nil {
		return fmt.Errorf("spawn: untrack set %d: %w", h.ID, err)
	}
	return nil
}

// NewTracked is semlock.New followed by Track: a private set that is
// removed if this process dies. If tracking fails the set is removed and
// the error returned.
func NewTracked(kind semlock.Kind, value, max int, opts ...semlock.Option) (*semlock.SemLock, error) {
	s, err := semlock.New(kind, value, max, opts...)
	if err != nil {
		return nil, err
	}
	if err := Track(s); err != nil {
		s.Remove()
		return nil, err
	}
	return s, nil
}

// RemoveTracked is Untrack followed by Remove.
func RemoveTracked(s *semlock.SemLock) error {
	uerr := Untrack(s)
	return errors.Join(s.Remove(), uerr)
}

// trackGroup registers a child's process group, if this process can have
// trackers (it called Dispatch). Failures are not the child's problem:
// PDEATHSIG still kills the child itself.
func trackGroup(pgid int) {
	if checkDispatch() != nil {
		return
	}
	tracker.mu.Lock()
	defer tracker.mu.Unlock()
	initLocked()
	if sendLocked("G+ "+strconv.Itoa(pgid)) == nil {
		tracker.groups[pgid] = true
	}
}

func untrackGroup(pgid int) {
	tracker.mu.Lock()
	defer tracker.mu.Unlock()
	if tracker.groups[pgid] {
		delete(tracker.groups, pgid)
		if len(tracker.procs) > 0 {
			sendLocked("G- " + strconv.Itoa(pgid))
		}
	}
}

func initLocked() {
	if tracker.sets == nil {
		tracker.sets, tracker.groups = map[int]semlock.Handle{}, map[int]bool{}
	}
	if tracker.paths == nil {
		tracker.paths = map[string]bool{}
	}
	if tracker.keepFor == 0 {
		tracker.keepFor = keepWait
	}
}

// sendLocked writes one line to every tracker, first starting one if
// none runs (it is then told what is registered), and schedules the start
// of its twin if one is missing. A line is far shorter than PIPE_BUF, so
// it is written whole. It fails only if no tracker got the line.
func sendLocked(line string) error {
	if len(tracker.procs) == 0 {
		if wait := rateLocked(); wait > 0 {
			// Trackers keep dying or failing: do not fork in a loop.
			return fmt.Errorf("%w: %d trackers started within a second; the last: %w", ErrTracker, maxStarts, tracker.lost)
		}
		if err := startLocked(); err != nil {
			return err
		}
	}
	b := line + "\n"
	for _, p := range slices.Clone(tracker.procs) {
		if _, err := p.w.WriteString(b); err != nil {
			lostLocked(p, fmt.Errorf("%w: write to the tracker (pid %d): %v", ErrTracker, p.proc.Pid, err))
		}
	}
	if len(tracker.procs) < twins {
		refillLocked(backoffLocked())
	}
	if len(tracker.procs) == 0 {
		return tracker.lost
	}
	return nil
}

// lostLocked forgets tracker p. If it might still run it is SIGKILLed
// first (os.Process signals only an unreaped child: never a reused pid),
// so that it never reads EOF and cleans up after a live process. If it
// was the reporter, a live twin becomes the reporter.
func lostLocked(p *trackerProc, why error) {
	i := slices.Index(tracker.procs, p)
	if i < 0 {
		return
	}
	tracker.procs = slices.Delete(tracker.procs, i, i+1)
	p.proc.Kill() // after Kill returns it runs no more user code
	p.w.Close()
	tracker.lost = why
	if p.reporter {
		for _, q := range slices.Clone(tracker.procs) {
			if _, err := q.w.WriteString("R\n"); err == nil {
				q.reporter = true
				return
			}
			lostLocked(q, fmt.Errorf("%w: write to the tracker (pid %d)", ErrTracker, q.proc.Pid))
		}
	}
}

// refillLocked schedules, after delay, the start of the missing twins.
func refillLocked(delay time.Duration) {
	if tracker.refill {
		return
	}
	tracker.refill = true
	time.AfterFunc(delay, refill)
}

// refill starts trackers until twins run, within the rate limit.
func refill() {
	tracker.mu.Lock()
	defer tracker.mu.Unlock()
	tracker.refill = false
	for len(tracker.procs) < twins {
		if wait := rateLocked(); wait > 0 {
			refillLocked(wait)
			return
		}
		if err := startLocked(); err != nil {
			refillLocked(max(backoffLocked(), 100*time.Millisecond))
			return
		}
	}
}

// backoffLocked is the pause before the next start after trackers ended
// before their handshake fails times in a row: 0, then 100 ms doubling up
// to maxBackoff.
func backoffLocked() time.Duration {
	if tracker.fails == 0 {
		return 0
	}
	return min(100*time.Millisecond<<min(tracker.fails-1, 10), maxBackoff)
}

// rateLocked returns 0 and counts a start if one is allowed now, else how
// long until the next one is.
func rateLocked() time.Duration {
	now := time.Now()
	if now.Sub(tracker.window) >= time.Second {
		tracker.window, tracker.starts = now, 0
	}
	if tracker.starts >= maxStarts {
		return tracker.window.Add(time.Second).Sub(now)
	}
	tracker.starts++
	return 0
}

// startLocked starts a tracker that knows everything registered, and a
// goroutine that replaces it when it dies (the caller has counted the
// start with rateLocked). It returns without waiting for the tracker to
// run: the lines sit in its pipe.
func startLocked() error {
	if err := checkDispatch(); err != nil {
		return err
	}
	reporter := !slices.ContainsFunc(tracker.procs, func(p *trackerProc) bool { return p.reporter })
	w, ready, proc, err := startTracker(stateLocked(reporter))
	if err != nil {
		tracker.lost = err
		return err
	}
	p := &trackerProc{proc: proc, w: w, reporter: reporter}
	tracker.procs = append(tracker.procs, p)
	go watchTracker(p, ready)
	return nil
}

// stateLocked is what a new tracker is told first: its keepWait, whether
// it reports, and every set and group registered.
func stateLocked(reporter bool) []byte {
	b := fmt.Appendf(nil, "K %d\n", tracker.keepFor.Milliseconds())
	if reporter {
		b = append(b, "R\n"...)
	}
	for _, h := range tracker.sets {
		b = append(b, "S+ "...)
		b = handlewire.Append(b, h) // Track checked it
		b = append(b, '\n')
	}
	for pgid := range tracker.groups {
		b = fmt.Appendf(b, "G+ %d\n", pgid)
	}
	for p := range tracker.paths {
		b = append(b, "P+ "+p+"\n"...)
	}
	return b
}

// watchTracker waits for tracker p to exit (or to fail its handshake,
// then kills it), reaps it and starts its replacement at once.
func watchTracker(p *trackerProc, ready <-chan error) {
	herr := <-ready
	if herr != nil {
		p.proc.Kill() // it never said it runs: do not let it linger
	} else {
		tracker.mu.Lock()
		tracker.fails = 0
		tracker.mu.Unlock()
	}
	waitExit(p.proc.Pid) // in the poller (a pidfd): no thread blocked meanwhile
	state, werr := p.proc.Wait()
	tracker.mu.Lock()
	defer tracker.mu.Unlock()
	why := herr
	if herr != nil {
		tracker.fails++
	} else {
		why = fmt.Errorf("%w: the tracker (pid %d) exited early (%v %v)", ErrTracker, p.proc.Pid, state, werr)
	}
	lostLocked(p, why)
	refillLocked(backoffLocked())
}

// TrackerPid returns the pid of this process's longest-running tracker,
// 0 if none runs.
func TrackerPid() int {
	tracker.mu.Lock()
	defer tracker.mu.Unlock()
	if len(tracker.procs) == 0 {
		return 0
	}
	return tracker.procs[0].proc.Pid
}

// startTracker starts a tracker process: w is the write end of its
// command pipe, into which state was written before the fork (as much of
// it as fits without blocking; the rest right after), and ready yields nil
// once it runs (or why it failed).
func startTracker(state []byte) (w *os.File, ready <-chan error, proc *os.Process, err error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, nil, nil, fmt.Errorf("%w: cannot find this binary: %v", ErrTracker, err)
	}
	cmdR, cmdW, err := os.Pipe() // O_CLOEXEC: no child inherits cmdW
	if err != nil {
		return nil, nil, nil, fmt.Errorf("%w: %v", ErrTracker, err)
	}
	defer cmdR.Close()
	rest, err := prewrite(cmdW, state)
	if err != nil {
		cmdW.Close()
		return nil, nil, nil, fmt.Errorf("%w: %v", ErrTracker, err)
	}
	syncR, syncW, err := os.Pipe()
	if err != nil {
		cmdW.Close()
		return nil, nil, nil, fmt.Errorf("%w: %v", ErrTracker, err)
	}
	defer syncW.Close()
	env := make([]string, 0, len(os.Environ())+3)
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if k != envRole && k != envSync && k != envParent && k != rebuild.EnvVar {
			env = append(env, kv)
		}
	}
	env = append(env, envRole+"="+trackerRole, envSync+"=4", envParent+"="+strconv.Itoa(os.Getpid()))
	cmd := &exec.Cmd{Path: selfExe(exe), Args: []string{os.Args[0]}, Env: env, Stderr: os.Stderr,
		ExtraFiles: []*os.File{cmdR, syncW}, SysProcAttr: sysProcAttr(false)}
	onForkThread(func() { err = cmd.Start() })
	if err != nil {
		cmdW.Close()
		syncR.Close()
		return nil, nil, nil, fmt.Errorf("%w: %v", ErrTracker, err)
	}
	if len(rest) > 0 {
		// Blocks in the poller until the tracker has read enough; if it
		// died meanwhile, its watcher replaces it.
		cmdW.Write(rest)
	}
	ch := make(chan error, 1)
	go func() {
		defer syncR.Close()
		syncR.SetReadDeadline(time.Now().Add(HandshakeTimeout))
		line, err := bufio.NewReader(io.LimitReader(syncR, 4096)).ReadString('\n')
		if strings.TrimSpace(line) == "ok" {
			ch <- nil
			return
		}
		ch <- fmt.Errorf("%w: the tracker (pid %d) ended before it started (%q, %v)", ErrTracker, cmd.Process.Pid, line, err)
	}()
	return cmdW, ch, cmd.Process, nil
}

// prewrite writes the whole lines of state into the pipe w while they fit
// without blocking (nobody reads it yet), in chunks of at most 512 bytes
// (POSIX's least PIPE_BUF: each chunk goes in whole or not at all, so the
// pipe never holds half a line), and returns the rest.
func prewrite(w *os.File, state []byte) ([]byte, error) {
	rc, err := w.SyscallConn()
	if err != nil {
		return nil, err
	}
	var werr error
	err = rc.Write(func(fd uintptr) bool {
		for len(state) > 0 {
			n := 0
			for n < len(state) {
				i := slices.Index(state[n:], '\n')
				if i < 0 || n > 0 && n+i+1 > 512 {
					break
				}
				n += i + 1
			}
			if n == 0 {
				n = len(state) // no newline: not a line of ours, written as it is
			}
			m, err := syscall.Write(int(fd), state[:n])
			if err == syscall.EINTR {
				continue
			}
			if err == syscall.EAGAIN {
				return true // full: the rest after the fork
			}
			if err != nil {
				werr = err
				return true
			}
			state = state[m:]
		}
		return true
	})
	if err == nil {
		err = werr
	}
	return state, err
}

// keepWait bounds how long a tracker waits, after its parent's death, for
// the live last user of a set to exit before it keeps the set. It is only
// a safety net: a user that is dying is waited for until it has exited,
// which is what decides, and a set that a live process outside the killed
// groups still uses after a minute is left to poolrun sem gc.
const keepWait = time.Minute

// leaderWait bounds how long the cleanup waits for the SIGKILLed group
// leaders to exit (one stuck in an uninterruptible sleep may take long).
const leaderWait = 10 * time.Second

// trackerMain is the tracker process: it reads the command pipe until
// EOF, then cleans up what its parent left.
func trackerMain(context.Context) error {
	in := os.NewFile(3, "tracker-commands")
	parent := parentPid()
	groups := map[int]bool{}
	sets := map[int]semlock.Handle{}
	paths := map[string]bool{}
	reporter := false
	keep := keepWait
	sc := bufio.NewScanner(&batchReader{r: in, pause: trackerPause})
	sc.Buffer(make([]byte, 0, 64<<10), 64<<10) // a whole pipeful per read
	for sc.Scan() {
		op, arg, _ := strings.Cut(sc.Text(), " ")
		switch op {
		case "S+":
			if h, err := handlewire.Decode(arg); err == nil {
				sets[h.ID] = h
			}
		case "S-":
			id, _ := strconv.Atoi(arg)
			delete(sets, id)
		case "G+":
			if pgid, err := strconv.Atoi(arg); err == nil && pgid > 1 {
				groups[pgid] = true
			}
		case "G-":
			pgid, _ := strconv.Atoi(arg)
			delete(groups, pgid)
		case "P+":
			paths[arg] = true
		case "P-":
			delete(paths, arg)
		case "R":
			reporter = true
		case "K":
			if ms, err := strconv.Atoi(arg); err == nil && ms > 0 {
				keep = time.Duration(ms) * time.Millisecond
			}
		}
	}
	// EOF: the parent is gone (or the pipe broke, which means the same).
	// Paths first: removing one (a fifo's directory) harms no process that
	// has it open, and the sets' cleanup may wait for a live last user.
	removePaths(paths)
	killed, removed, kept, skipped := cleanup(groups, sets, keep)
	if reporter && killed+removed+len(kept)+len(skipped) > 0 {
		msg := fmt.Sprintf("poolrun tracker: process %d ended leaving %d child process groups and %d private semaphore sets: killed the groups, removed %d sets", parent, len(groups), len(sets), removed)
		if len(kept) > 0 {
			msg += fmt.Sprintf("; kept %v (still used by a live process; poolrun sem gc removes them later)", kept)
		}
		for _, err := range skipped {
			msg += "; left " + err.Error()
		}
		fmt.Fprintln(os.Stderr, msg)
	}
	return nil
}

// trackerPause is how long the tracker sleeps after each read of its
// command pipe. Every Cmd.Start and Wait writes a line; a tracker blocked
// in read is woken by each one, a context switch per line that cost a
// batch runner like poolrun about 10% of its wall time on 2 cores. After
// a pause the lines written meanwhile (a few hundred bytes, far below the
// pipe's 64 KiB) are read in one go. Nothing is lost or late in a way that
// matters: the lines stay in the pipe in order, EOF (this process died)
// is still read after them, and the cleanup starts at most trackerPause
// later.
const trackerPause = 10 * time.Millisecond

// batchReader sleeps for pause after each read that returned data, so
// that the next read gets what was written meanwhile in one batch.
type batchReader struct {
	r     io.Reader
	pause time.Duration
}

func (b *batchReader) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if n > 0 && err == nil {
		time.Sleep(b.pause)
	}
	return n, err
}

// cleanup SIGKILLs the groups, waits for their leaders to exit, then
// removes each set that is still the one registered, unless its last user
// (the last pid the kernel records for it) is a live process outside the
// killed groups that is not exiting. Whether such a user is dying too (a
// nested poolrun's job that dies by PDEATHSIG a moment later, a process
// that exits when it sees its parent gone) is a fact only its exit tells:
// the cleanup waits, in the kernel, until one of those users has exited
// and then looks again (its exit-time undo may have made it the last pid;
// another user may now be last), up to keep in all. A set whose last
// user still lives then is kept.
//
// The twin tracker runs the same cleanup at the same time: a set it
// removed first is gone here (ErrRemoved) and is counted as removed.
func cleanup(groups map[int]bool, sets map[int]semlock.Handle, keep time.Duration) (killed, removed int, kept []int, skipped []error) {
	leaders := make([]int, 0, len(groups))
	for pgid := range groups {
		if syscall.Kill(-pgid, syscall.SIGKILL) == nil {
			killed++
		}
		leaders = append(leaders, pgid)
	}
	// The leaders' exit-time undo then happens before the sets are looked
	// at: wait until each has exited, or leaderWait has passed.
	waitAllExit(leaders, time.Now().Add(leaderWait))
	pending := make(map[int]semlock.Handle, len(sets))
	for id, h := range sets {
		pending[id] = h
	}
	deadline := time.Now().Add(keep)
	for len(pending) > 0 {
		last := map[int]int{}
		if infos, err := semlock.List(); err == nil {
			for _, in := range infos {
				last[in.ID] = in.LastPID
			}
		}
		var users []int
		for id, h := range pending {
			if p := last[id]; p != 0 && p != h.Creator && usesOn(p, groups) {
				users = append(users, p) // wait for it
				continue
			}
			delete(pending, id)
			s, err := semlock.Attach(h) // verifies the token: never a newer set with this id
			if err == nil {
				err = s.Remove()
			}
			switch {
			case err == nil, errors.Is(err, semlock.ErrRemoved): // gone already: the twin removed it
				removed++
			default:
				skipped = append(skipped, err)
			}
		}
		if len(pending) == 0 || !time.Now().Before(deadline) {
			break
		}
		waitAnyExit(users, deadline)
	}
	for id := range pending {
		kept = append(kept, id)
	}
	slices.Sort(kept)
	return killed, removed, kept, skipped
}

// usesOn reports whether pid, a set's last user, may go on using the set:
// it is alive (not a zombie), not exiting, and outside the killed groups.
func usesOn(pid int, groups map[int]bool) bool {
	return alive(pid) && !exiting(pid) && !inGroups(pid, groups)
}

// inGroups reports whether pid is in one of the groups the tracker
// killed: then it got SIGKILL too and is only still exiting (a member
// exits after its leader, and its exit-time undo makes it the last pid
// of the sets it used). Its group id is read now, not remembered: a
// process that left the group before the kill is outside and lives.
func inGroups(pid int, groups map[int]bool) bool {
	if groups[pid] {
		return true
	}
	pgid, err := syscall.Getpgid(pid)
	return err == nil && groups[pgid]
}

// alive reports whether pid runs (a zombie does not).
func alive(pid int) bool {
	_, ok := procstart.Start(pid)
	return ok
}

// pollExits looks every 5 ms whether one (all false) or all of pids have
// exited, until deadline: waitExits without pidfds.
func pollExits(pids []int, deadline time.Time, all bool) {
	for {
		n := 0
		for _, p := range pids {
			if !alive(p) {
				n++
			}
		}
		if n == len(pids) || !all && n > 0 || !time.Now().Before(deadline) {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}
