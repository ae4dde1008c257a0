//go:build linux

package integration

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/poolrun/poolrun/internal/leakcheck"
	"github.com/poolrun/poolrun/internal/proctest"
	"github.com/poolrun/poolrun/internal/spans"
	"golang.org/x/sys/unix"
)

// semBin is poolrun called as sem: a symlink next to bin, as a user makes
// one (ln -s "$(command -v poolrun)" ~/bin/sem).
var semBin = sync.OnceValue(func() string {
	p := filepath.Join(filepath.Dir(bin), "sem")
	if err := os.Symlink(bin, p); err != nil && !os.IsExist(err) {
		panic(err)
	}
	return p
})

// semID is an --id no other test (or run) uses.
func semID(t *testing.T) string {
	return fmt.Sprintf("it-%d-%s", os.Getpid(), strings.ReplaceAll(t.Name(), "/", "."))
}

// semShell runs line (shell words after the program) with prog as $0, in
// dir, and returns how it ended. Its stdout and stderr are files, not
// pipes: a background job keeps sem's stdout open, and a pipe would make
// the caller wait for the job as well.
func semShell(t *testing.T, prog, dir, line, stdin string, env ...string) result {
	t.Helper()
	cmd := exec.Command("sh", "-c", `exec "$0" `+line, prog)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	out, err := os.CreateTemp(dir, "out")
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	errf, err := os.CreateTemp(dir, "err")
	if err != nil {
		t.Fatal(err)
	}
	defer errf.Close()
	cmd.Stdout, cmd.Stderr = out, errf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	leakcheck.Track(cmd.Process.Pid)
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("%s %s did not end within 60 s", prog, line)
	}
	o, _ := os.ReadFile(out.Name())
	e, _ := os.ReadFile(errf.Name())
	return result{stdout: string(o), stderr: string(e), code: cmd.ProcessState.ExitCode()}
}

// gnuSem is GNU's sem, or "" when it is not installed. GNU sem keeps its
// state under $HOME/.parallel: each test gives it a home of its own.
func gnuSem() string {
	p := peer("sem")
	if p == "" {
		return ""
	}
	if out, err := exec.Command(p, "--version").Output(); err != nil || !bytes.Contains(out, []byte("GNU parallel")) {
		return ""
	}
	return p
}

// semCases are GNU sem command lines (after --id ID) with what GNU
// parallel 20221122's sem does with them: stdout and exit status (and a
// piece of stderr where it says something that matters), on a machine of
// any number of CPUs. Recorded; compared live when GNU sem is installed.
var semCases = []struct {
	args, stdin, want string
	code              int
	stderr            string // in poolrun's stderr (GNU's says "parallel:" where poolrun says "poolrun:")
	slowGNU           bool   // not run live: GNU takes a minute over it
	gnuUsage          bool   // GNU also prints its usage on stdout; poolrun says what is wrong in one line on stderr
}{
	{args: `--fg 'exit 3'`, code: 3},
	{args: `--fg 'exit 200'`, code: 200},
	{args: `--fg 'kill -9 $$'`, code: 137},
	{args: `--fg true`},
	{args: `--fg echo a b`, want: "a b\n"},
	{args: `--fg echo a \; echo b`, want: "a\nb\n"},
	{args: `--fg 'echo a; echo e >&2; echo b' 2>&1`, want: "a\nb\ne\n"}, // grouped: stdout whole, then stderr
	{args: `--fg -u 'echo a; echo e >&2; echo b' 2>&1`, want: "a\ne\nb\n"},
	{args: `--fg cat`, stdin: "in\n", want: "in\n"},
	{args: `--fg --timeout 0.5 'echo before; sleep 20'`, want: "before\n", code: 255, stderr: "Warning: This job was killed because it timed out:"},
	{args: `--fg no-such-program-poolrun`, code: 127},
	{args: `-j 0 --fg 'echo j0'`, want: "j0\n", slowGNU: true}, // GNU probes how many processes it could start
	{args: `-j 150% --fg 'echo pct'`, want: "pct\n"},
	{args: `-j +1 --fg 'echo plus'`, want: "plus\n"},
	{args: `-j -1000 --fg 'echo never'`, code: 255, stderr: "Cannot run any jobs."},
	{args: `-j abc --fg 'echo never'`, code: 255, gnuUsage: true},
	{args: `--timeout abc --fg 'echo never'`, code: 255},
	{args: `--bogus-option true`, code: 255, gnuUsage: true},
	{args: ``},     // no command: nothing to do
	{args: `--fg`}, // the same in the foreground
	{args: `--wait`},
	{args: `--wait echo ignored`}, // --wait ignores a command
	{args: `--st abc --fg 'echo st'`, want: "st\n"},
}

func TestGNUSemCases(t *testing.T) {
	leakcheck.Check(t)
	t.Parallel()
	dir := t.TempDir()
	gnu := gnuSem()
	home := t.TempDir()
	for i, c := range semCases {
		if !sampled(i) {
			continue
		}
		id := fmt.Sprintf("%s-%d", semID(t), i)
		line := "--id " + id + " " + c.args
		r := semShell(t, semBin(), dir, line, c.stdin)
		if r.stdout != c.want || r.code != c.code || !strings.Contains(r.stderr, c.stderr) {
			t.Errorf("sem %s: stdout %q, exit %d, stderr %q; want %q, %d, stderr with %q", line, r.stdout, r.code, r.stderr, c.want, c.code, c.stderr)
		}
		if c.code == 255 && c.stderr == "" && (strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 || !strings.HasPrefix(r.stderr, "poolrun: ")) {
			t.Errorf("sem %s: stderr %q, want one line starting poolrun: ", line, r.stderr)
		}
		if gnu == "" || c.slowGNU {
			continue
		}
		g := semShell(t, gnu, dir, line, c.stdin, "HOME="+home)
		if c.gnuUsage && strings.HasPrefix(g.stdout, "Usage:") {
			g.stdout = c.want
		}
		if g.stdout != c.want || g.code != c.code || !strings.Contains(g.stderr, c.stderr) {
			t.Errorf("GNU sem %s: stdout %q, exit %d, stderr %q; recorded %q, %d, %q", line, g.stdout, g.code, g.stderr, c.want, c.code, c.stderr)
		}
	}
	if gnu == "" {
		t.Log("GNU sem not installed: compared with the recorded behaviour only")
	}
}

// poolrun --semaphore, and GNU's sem options to poolrun, are the sem
// personality too.
func TestGNUSemFlagPersonality(t *testing.T) {
	leakcheck.Check(t)
	t.Parallel()
	for _, args := range [][]string{
		{"--semaphore", "--fg", "--id", semID(t), "exit 5"},
		{"--id", semID(t), "--fg", "exit 5"},
		{"-j", "2", "--semaphore", "--fg", "--id", semID(t), "exit 5"},
	} {
		if r := poolrun(t, runOpts{}, args...); r.code != 5 {
			t.Errorf("poolrun %q: exit %d (%s), want the command's 5", args, r.code, r.stderr)
		}
	}
	if r := poolrun(t, runOpts{}, "--semaphore", "--help"); r.code != 0 || !strings.Contains(r.stdout, "ln -s") {
		t.Errorf("poolrun --semaphore --help: exit %d, %q", r.code, r.stdout)
	}
}

// The cap holds across concurrent sem calls, background and foreground,
// and every command runs.
func TestGNUSemCap(t *testing.T) {
	leakcheck.Check(t)
	t.Parallel()
	dir := t.TempDir()
	span := spans.Script(t, dir)
	for _, mode := range []string{"bg", "fg"} {
		t.Run(mode, func(t *testing.T) {
			id := semID(t)
			log := filepath.Join(dir, "spans-"+mode)
			fg := ""
			if mode == "fg" {
				fg = "--fg "
			}
			var wg sync.WaitGroup
			codes := make([]int, 6)
			for i := range codes {
				wg.Add(1)
				go func() {
					defer wg.Done()
					codes[i] = semShell(t, semBin(), dir, fg+"--id "+id+" -j 2 sh "+span, "", "SPANS="+log).code
				}()
			}
			wg.Wait()
			if r := semShell(t, semBin(), dir, "--id "+id+" --wait", ""); r.code != 0 {
				t.Fatalf("sem --wait: exit %d: %s", r.code, r.stderr)
			}
			peak, jobs := spans.Peak(t, log)
			if jobs != 6 || peak > 2 {
				t.Errorf("%s: %d commands, at most %d at once; want 6, at most 2 (exits %v)", mode, jobs, peak, codes)
			}
		})
	}
}

// holdSlot starts `sem --id id -j jobs` with a command that writes its pid
// to a file and sleeps, waits until it runs, and returns its pid.
func holdSlot(t *testing.T, dir, id string, jobs int) int {
	t.Helper()
	pidFile := filepath.Join(dir, fmt.Sprintf("pid-%d", time.Now().UnixNano()))
	r := semShell(t, semBin(), dir, fmt.Sprintf("--id %s -j %d 'echo $$ > %s; exec sleep 60'", id, jobs, pidFile), "")
	if r.code != 0 {
		t.Fatalf("sem in the background: exit %d: %s", r.code, r.stderr)
	}
	waitFiles(t, pidFile)
	pid := proctest.PidFrom(t, pidFile)
	t.Cleanup(func() { syscall.Kill(pid, syscall.SIGKILL) })
	return pid
}

// parentOf is pid's parent.
func parentOf(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	ppid, _ := strconv.Atoi(f[1])
	return ppid
}

// Each call brings its own -j, as in GNU sem: with one command running
// under -j 4, a -j 1 call waits (--st -1: gives up, exit 1) and a -j 2
// call runs; --st 1 takes the slot anyway after a second.
func TestGNUSemPerCallLimit(t *testing.T) {
	leakcheck.Check(t)
	t.Parallel()
	dir := t.TempDir()
	id := semID(t)
	pid := holdSlot(t, dir, id, 4)
	if r := semShell(t, semBin(), dir, "--id "+id+" -j 1 --st -1 --fg 'echo never'", ""); r.code != 1 || r.stdout != "" || !strings.Contains(r.stderr, "Semaphore timed out. Exiting.") {
		t.Errorf("-j 1 --st -1 while one runs: exit %d, %q, %q; want 1 and GNU's warning", r.code, r.stdout, r.stderr)
	}
	if r := semShell(t, semBin(), dir, "--id "+id+" -j 2 --st -1 --fg 'echo ran'", ""); r.code != 0 || r.stdout != "ran\n" {
		t.Errorf("-j 2 while one runs: exit %d, %q, %q; want 0, ran", r.code, r.stdout, r.stderr)
	}
	if r := semShell(t, semBin(), dir, "--id "+id+" -j 1 --st 1 --fg 'echo stole'", ""); r.code != 0 || r.stdout != "stole\n" || !strings.Contains(r.stderr, "Stealing the semaphore") {
		t.Errorf("-j 1 --st 1 while one runs: exit %d, %q, %q; want 0, stole, GNU's warning", r.code, r.stdout, r.stderr)
	}
	syscall.Kill(pid, syscall.SIGKILL)
	if r := semShell(t, semBin(), dir, "--id "+id+" --wait", ""); r.code != 0 {
		t.Errorf("--wait: exit %d: %s", r.code, r.stderr)
	}
}

// --wait waits for a running command and returns once it is SIGKILLed,
// with its holder: the kernel's undo gives the slot back, where GNU sem's
// pid files stay behind. Nothing is left afterwards (leakcheck).
func TestGNUSemWaitAfterKill(t *testing.T) {
	leakcheck.Check(t)
	t.Parallel()
	dir := t.TempDir()
	id := semID(t)
	pid := holdSlot(t, dir, id, 1)
	holder := parentOf(t, pid)
	wait := exec.Command(semBin(), "--id", id, "--wait")
	if err := wait.Start(); err != nil {
		t.Fatal(err)
	}
	leakcheck.Track(wait.Process.Pid)
	waited := make(chan error, 1)
	go func() { waited <- wait.Wait() }()
	// The slot is held: a -j 1 call gives up, and --wait is still waiting.
	if r := semShell(t, semBin(), dir, "--id "+id+" -j 1 --st -1 --fg true", ""); r.code != 1 {
		t.Errorf("-j 1 --st -1 while the command runs: exit %d, want 1", r.code)
	}
	select {
	case err := <-waited:
		t.Fatalf("sem --wait returned (%v) while the command runs", err)
	default:
	}
	syscall.Kill(holder, syscall.SIGKILL)
	syscall.Kill(pid, syscall.SIGKILL)
	select {
	case err := <-waited:
		if err != nil {
			t.Fatalf("sem --wait: %v", err)
		}
	case <-time.After(30 * time.Second):
		wait.Process.Kill()
		t.Fatal("sem --wait did not return after the command and its holder were SIGKILLed")
	}
	proctest.Gone(t, pid, holder)
}

// In the background sem returns at once while the command goes on, in a
// session of its own (closing sem's terminal does not hang it up); the
// command's output comes when it ends.
func TestGNUSemBackground(t *testing.T) {
	leakcheck.Check(t)
	t.Parallel()
	dir := t.TempDir()
	id := semID(t)
	goFile, started, sid := filepath.Join(dir, "go"), filepath.Join(dir, "started"), filepath.Join(dir, "sid")
	line := fmt.Sprintf(`--id %s 'echo $$ > %s; ps -o sid= -p $$ > %s; while [ ! -e %s ]; do sleep 0.05; done; echo done' > %s/bg.out`,
		id, started, sid, goFile, dir)
	if r := semShell(t, semBin(), dir, line, ""); r.code != 0 {
		t.Fatalf("sem in the background: exit %d: %s", r.code, r.stderr)
	}
	// sem has returned: the command runs on, waiting for the go file.
	waitFiles(t, started, sid)
	b, _ := os.ReadFile(sid)
	cmdSid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	if mySid, _ := unix.Getsid(0); cmdSid == mySid || cmdSid == 0 {
		t.Errorf("the background command is in session %d, ours is %d: want a session of its own", cmdSid, mySid)
	}
	if out, _ := os.ReadFile(filepath.Join(dir, "bg.out")); len(out) != 0 {
		t.Errorf("output before the command ended: %q (want it grouped, at the end)", out)
	}
	os.WriteFile(goFile, nil, 0o644)
	if r := semShell(t, semBin(), dir, "--id "+id+" --wait", ""); r.code != 0 {
		t.Fatalf("--wait: exit %d: %s", r.code, r.stderr)
	}
	proctest.Gone(t, proctest.PidFrom(t, started))
	if out, _ := os.ReadFile(filepath.Join(dir, "bg.out")); string(out) != "done\n" {
		t.Errorf("background output %q, want done", out)
	}
}

// --timeout kills a background command too; --wait then returns.
func TestGNUSemBackgroundTimeout(t *testing.T) {
	leakcheck.Check(t)
	t.Parallel()
	dir := t.TempDir()
	id := semID(t)
	if r := semShell(t, semBin(), dir, "--id "+id+" --timeout 0.3 'sleep 30' 2> "+dir+"/bg.err", ""); r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if r := semShell(t, semBin(), dir, "--id "+id+" --wait", ""); r.code != 0 {
		t.Fatalf("--wait: exit %d: %s", r.code, r.stderr)
	}
	// The holder writes the warning just before it leaves: --wait may
	// return a moment before the write lands.
	waitFiles(t, dir+"/bg.err")
	if b, _ := os.ReadFile(dir + "/bg.err"); !strings.Contains(string(b), "This job was killed because it timed out:\npoolrun: Warning: sleep 30") {
		t.Errorf("stderr %q, want GNU's timeout warning", b)
	}
}

// An --id that names a poolrun cap (a semaphore set) is refused, clearly.
func TestGNUSemIDOfACap(t *testing.T) {
	leakcheck.Check(t)
	t.Parallel()
	dir := t.TempDir()
	name := semID(t)
	t.Cleanup(func() { poolrun(t, runOpts{}, "sem", "rm", name) })
	if r := poolrun(t, runOpts{}, "sem", "run", name, "-j", "2", "--", "true"); r.code != 0 {
		t.Fatalf("sem run: exit %d: %s", r.code, r.stderr)
	}
	r := semShell(t, semBin(), dir, "--id "+name+" --fg true", "")
	if r.code != 255 || !strings.Contains(r.stderr, "not a GNU sem semaphore") || strings.Count(r.stderr, "\n") != 1 {
		t.Errorf("sem --id over a cap: exit %d, %q; want 255 and one line that says so", r.code, r.stderr)
	}
}

// poolrun sem ls shows a GNU sem semaphore with its holders. (poolrun sem
// gc's removal of idle ones is tested in semlock, TestTallyWaitIdleKilledHolder:
// a gc here would sweep other tests' sets, machine-wide.)
func TestGNUSemLs(t *testing.T) {
	leakcheck.Check(t)
	t.Parallel()
	dir := t.TempDir()
	id := semID(t)
	pid := holdSlot(t, dir, id, 3)
	if r := poolrun(t, runOpts{}, "sem", "ls"); !regexp.MustCompile(`(?m)^\d+\s+\S+\s+tally\s+1 held\s`).MatchString(r.stdout) {
		t.Errorf("sem ls while one command holds the set:\n%s\nwant a tally line with 1 held", r.stdout)
	}
	syscall.Kill(pid, syscall.SIGKILL)
	if r := semShell(t, semBin(), dir, "--id "+id+" --wait", ""); r.code != 0 {
		t.Errorf("--wait: exit %d: %s", r.code, r.stderr)
	}
}

// --timeout ends the command's whole family, as GNU parallel's does: the
// shell and what it started.
func TestGNUSemTimeoutFamily(t *testing.T) {
	leakcheck.Check(t)
	t.Parallel()
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "child")
	r := semShell(t, semBin(), dir, "--id "+semID(t)+" --fg --timeout 0.5 'sleep 30 & echo $! > "+pidFile+"; wait; echo after'", "")
	if r.code != 255 || r.stdout != "" {
		t.Errorf("exit %d, stdout %q; want 255 and nothing", r.code, r.stdout)
	}
	gone(t, pidFile)
}

// On a terminal: the default --id is the terminal's name, a --fg command
// can read the terminal (it is in sem's foreground group), and a
// background command outlives the terminal's closing (it has a session of
// its own, so the hang-up does not reach it). script(1) gives the calls a
// terminal and closes it when they return.
func TestGNUSemTerminal(t *testing.T) {
	leakcheck.Check(t)
	t.Parallel()
	scriptCmd, err := exec.LookPath("script")
	if err != nil {
		t.Skip("script(1) not found: no pseudo-terminal to test sem on")
	}
	dir := t.TempDir()
	goFile, done, idFile := filepath.Join(dir, "go"), filepath.Join(dir, "done"), filepath.Join(dir, "id")
	// The default id is the terminal's name: a --fg call with it, then a
	// background call that waits for the go file.
	inner := fmt.Sprintf(`tty > %s; %s --fg 'read x; echo got=$x'; %s 'while [ ! -e %s ]; do sleep 0.05; done; echo ok > %s'`,
		idFile, semBin(), semBin(), goFile, done)
	cmd := exec.Command(scriptCmd, "-qec", inner, "/dev/null")
	cmd.Stdin = strings.NewReader("hi\n")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "got=hi") {
		t.Fatalf("script: %v, output %q: want got=hi", err, out)
	}
	// The terminal is closed now; the background command waits on, holding
	// the slot of the id named after the terminal.
	b, _ := os.ReadFile(idFile)
	tty := strings.TrimSpace(string(b))
	if !strings.HasPrefix(tty, "/dev/") {
		t.Fatalf("tty printed %q", tty)
	}
	if r := semShell(t, semBin(), dir, "--id "+tty+" -j 1 --st -1 --fg true", ""); r.code != 1 {
		t.Errorf("--id %s -j 1 --st -1 while the background command runs: exit %d (%s), want 1 (the slot is taken)", tty, r.code, r.stderr)
	}
	os.WriteFile(goFile, nil, 0o644)
	// sem --wait with the terminal's name as --id finds the command's set.
	if r := semShell(t, semBin(), dir, "--id "+tty+" --wait", ""); r.code != 0 {
		t.Fatalf("--wait --id %s: exit %d: %s", tty, r.code, r.stderr)
	}
	waitFiles(t, done)
	if b, _ := os.ReadFile(done); string(b) != "ok\n" {
		t.Errorf("the background command wrote %q, want ok", b)
	}
}
