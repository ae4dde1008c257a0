package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/poolrun/poolrun/etcd/internal/etcdtest"
)

// GNU sem (poolrun called as sem) on etcd caps: sem --id etcd://…/NAME.

// semBin is poolrun called as sem: a symlink beside it, as users make
// one; the helper is found beside the binary it resolves to.
var semBin = sync.OnceValue(func() string {
	p := filepath.Join(bin, "sem")
	if err := os.Symlink(filepath.Join(bin, "poolrun"), p); err != nil && !os.IsExist(err) {
		panic(err)
	}
	return p
})

// sem is a command running sem with args. Its environment has no make
// jobserver (a test run under make must not hand sem its tokens).
func sem(args ...string) *exec.Cmd {
	cmd := exec.Command(semBin(), args...)
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); k != "MAKEFLAGS" && k != "MFLAGS" && k != "CARGO_MAKEFLAGS" {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	return cmd
}

// semJob is a command that, while it runs, has a file in dir/run, counts
// the files there (more than max: dir/over gets the count), leaves
// dir/ran/NAME, and holds its slot a while.
func semJob(dir string, max int, name string) string {
	return `f=` + dir + `/run/$$; : > $f; n=$(ls ` + dir + `/run | wc -l); [ $n -le ` + strconv.Itoa(max) + ` ] || echo $n >> ` + dir + `/over; : > ` + dir + `/ran/` + name + `; sleep 0.1; rm $f`
}

// bgResult runs a background sem: its stdout and stderr are a file, not
// pipes, which the background command keeps open (result would wait for
// it).
func bgResult(t *testing.T, cmd *exec.Cmd) (string, int) {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), "out")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd.Stdout, cmd.Stderr = f, f
	err = cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(f.Name())
	return string(b), code
}

// pidIn is the pid written in file, 0 if none (yet).
func pidIn(file string) int {
	b, _ := os.ReadFile(file)
	p, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return p
}

// ppidOf is pid's parent.
func ppidOf(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	p, _ := strconv.Atoi(f[1])
	return p
}

// alive reports whether pid runs (a zombie does not).
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	return len(f) > 0 && f[0] != "Z"
}

// Four callers, each starting six background sems of one etcd cap of 3
// slots (standing for four machines' scripts), then sem --wait: never
// more than 3 commands at once, all 24 run, each sem returns 0, and
// nothing is left in etcd.
func TestSemFourBackgroundCallers(t *testing.T) {
	m := etcdtest.Start(t)
	dir := t.TempDir()
	os.Mkdir(dir+"/run", 0o755)
	os.Mkdir(dir+"/ran", 0o755)
	url := "etcd://" + m.Client + "/sem4"
	var wg sync.WaitGroup
	errs := make(chan string, 24)
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 6; j++ {
				cmd := sem("--id", url, "-j", "3", semJob(dir, 3, fmt.Sprintf("%d-%d", i, j)))
				// Files, not pipes: the background job keeps sem's stdout.
				out, _ := os.CreateTemp(dir, "out")
				cmd.Stdout, cmd.Stderr = out, out
				err := cmd.Run()
				out.Close()
				if b, _ := os.ReadFile(out.Name()); err != nil || len(b) > 0 {
					errs <- fmt.Sprintf("sem %d-%d: %v %q", i, j, err, b)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if _, errb, code := result(t, sem("--wait", "--id", url)); code != 0 {
		t.Fatalf("sem --wait: %d %s", code, errb)
	}
	if b, err := os.ReadFile(dir + "/over"); err == nil {
		t.Errorf("more than 3 commands at once: %q", b)
	}
	if ran, _ := os.ReadDir(dir + "/ran"); len(ran) != 24 {
		t.Errorf("%d commands ran, want 24", len(ran))
	}
	if run, _ := os.ReadDir(dir + "/run"); len(run) != 0 {
		t.Errorf("sem --wait returned with %d commands running", len(run))
	}
	waitFor(t, "nothing left in etcd", func() bool { return len(keys(t, m.Client)) == 0 })
}

// --fg on an etcd cap: the command's status, its output; --wait waits
// for a background command and returns once it has ended; -j of another
// size is told; -j 1 --st -1 gives up while the one slot is held.
func TestSemFgWaitSize(t *testing.T) {
	m := etcdtest.Start(t)
	dir := t.TempDir()
	url := "etcd://" + m.Client + "/semfg"
	if out, errs, code := result(t, sem("--fg", "--id", url, "-j", "2", "echo out; exit 3")); code != 3 || out != "out\n" || errs != "" {
		t.Errorf("--fg: status %d, stdout %q, stderr %q: want 3, out", code, out, errs)
	}
	goFile, pid := dir+"/go", dir+"/pid"
	hold := sem("--id", url, "-j", "2", fmt.Sprintf("echo $$ > %s.tmp; mv %s.tmp %s; while [ ! -e %s ]; do sleep 0.01; done", pid, pid, pid, goFile))
	if errs, code := bgResult(t, hold); code != 0 {
		t.Fatalf("background sem: %d %s", code, errs)
	}
	waitFor(t, "the background command", func() bool { return pidIn(pid) != 0 })
	defer syscall.Kill(pidIn(pid), syscall.SIGKILL)
	// Size 2, one held: a -j 5 call is told, runs; a -j 1 call (size 2
	// all the same) runs too.
	if out, errs, code := result(t, sem("--fg", "--id", url, "-j", "5", "echo five")); code != 0 || out != "five\n" || !strings.Contains(errs, "is in use with 2 slots") || strings.Count(errs, "\n") != 1 {
		t.Errorf("-j 5: status %d, stdout %q, stderr %q: want 0, five, one line telling the size 2", code, out, errs)
	}
	wait := sem("--wait", "--id", url)
	var werr strings.Builder
	wait.Stderr = &werr
	if err := wait.Start(); err != nil {
		t.Fatal(err)
	}
	waited := make(chan error, 1)
	go func() { waited <- wait.Wait() }()
	// Both slots held now: --st -1 gives up, and --wait has not returned.
	go2 := dir + "/go2"
	hold2 := sem("--id", url, "--fg", "while [ ! -e "+go2+" ]; do sleep 0.01; done")
	if err := hold2.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "two holders", func() bool { return len(keys(t, m.Client)) >= 4 }) // two process keys, two slot keys
	if _, errs, code := result(t, sem("--fg", "--id", url, "--st", "-1", "echo never")); code != 1 || !strings.Contains(errs, "Semaphore timed out. Exiting.") {
		t.Errorf("--st -1 with the cap full: status %d, stderr %q: want 1 and GNU's warning", code, errs)
	}
	os.WriteFile(go2, nil, 0o644)
	hold2.Wait()
	select {
	case err := <-waited:
		t.Fatalf("sem --wait returned (%v, %q) while the background command runs", err, werr.String())
	default:
	}
	os.WriteFile(goFile, nil, 0o644)
	select {
	case err := <-waited:
		if err != nil {
			t.Errorf("sem --wait: %v %q", err, werr.String())
		}
	case <-time.After(time.Minute):
		wait.Process.Kill()
		t.Fatal("sem --wait did not return after the command ended")
	}
	if alive(pidIn(pid)) {
		t.Error("sem --wait returned while the command runs")
	}
	waitFor(t, "nothing left in etcd", func() bool { return len(keys(t, m.Client)) == 0 })
}

// A SIGKILLed background holder gives its slot back at once: its
// helper's input ends and it revokes the lease (the TTL is an hour).
func TestSemKilledHolderGivesBack(t *testing.T) {
	m := etcdtest.Start(t)
	dir := t.TempDir()
	url := "etcd://" + m.Client + "/semkill?ttl=1h"
	pid := dir + "/pid"
	if errs, code := bgResult(t, sem("--id", url, "-j", "1", "echo $$ > "+pid+".tmp; mv "+pid+".tmp "+pid+"; exec sleep 60")); code != 0 {
		t.Fatalf("background sem: %d %s", code, errs)
	}
	waitFor(t, "the command", func() bool { return pidIn(pid) != 0 })
	p := pidIn(pid)
	defer syscall.Kill(p, syscall.SIGKILL)
	// The slot is held: a -j 1 call gives up.
	if _, errs, code := result(t, sem("--fg", "--id", url, "--st", "-1", "true")); code != 1 {
		t.Fatalf("--st -1 while the slot is held: %d %q, want 1", code, errs)
	}
	syscall.Kill(ppidOf(t, p), syscall.SIGKILL)
	out, errs, code := result(t, sem("--fg", "--id", url, "--st", "-30", "echo got it"))
	if code != 0 || out != "got it\n" {
		t.Errorf("after the holder's SIGKILL: status %d, stdout %q, stderr %q: want the slot", code, out, errs)
	}
}

// Fencing: etcd stops under a foreground and a background command and
// a poolrun sem run: each is stopped, the loss is said in one line, --fg
// and sem run exit 255.
func TestSemFence(t *testing.T) {
	m := etcdtest.Start(t)
	dir := t.TempDir()
	url := "etcd://" + m.Client + "/semfence?ttl=2s"
	bgPid, fgPid, runPid := dir+"/bg", dir+"/fg", dir+"/run"
	job := func(pid string) string {
		return "echo $$ > " + pid + ".tmp; mv " + pid + ".tmp " + pid + "; exec sleep 60"
	}
	bgErr, err := os.Create(dir + "/bg.err")
	if err != nil {
		t.Fatal(err)
	}
	defer bgErr.Close()
	bg := sem("--id", url, "-j", "3", job(bgPid))
	bg.Stdout, bg.Stderr = bgErr, bgErr
	if err := bg.Run(); err != nil {
		t.Fatalf("background sem: %v", err)
	}
	fg := sem("--fg", "--id", url, "-j", "3", job(fgPid))
	run := poolrun(nil, "sem", "run", url, "-j", "3", "--", "sh", "-c", job(runPid))
	var fgErr, runErr strings.Builder
	fg.Stderr, run.Stderr = &fgErr, &runErr
	for _, c := range []*exec.Cmd{fg, run} {
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "the three commands", func() bool { return pidIn(bgPid) != 0 && pidIn(fgPid) != 0 && pidIn(runPid) != 0 })
	for _, p := range []string{bgPid, fgPid, runPid} {
		defer syscall.Kill(pidIn(p), syscall.SIGKILL)
	}
	m.Stop()
	for _, c := range []struct {
		name string
		cmd  *exec.Cmd
		err  *strings.Builder
		want string
	}{{"--fg", fg, &fgErr, "no command may run outside a held slot: stopping the command"}, {"sem run", run, &runErr, "no command may run outside a held slot: stopping the command"}} {
		err := c.cmd.Wait()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 255 {
			t.Errorf("%s after etcd stopped: %v, want exit 255", c.name, err)
		}
		if s := c.err.String(); !strings.Contains(s, c.want) || strings.Count(s, "\n") != 1 {
			t.Errorf("%s's stderr %q: want one line saying the fence", c.name, s)
		}
	}
	waitFor(t, "the background command stopped", func() bool { return !alive(pidIn(bgPid)) })
	for _, p := range []string{fgPid, runPid} {
		if alive(pidIn(p)) {
			t.Errorf("the command of %s still runs", p)
		}
	}
	waitFor(t, "the background holder's line", func() bool {
		b, _ := os.ReadFile(bgErr.Name())
		return strings.Contains(string(b), "stopping the command\n")
	})
}

// Bad input and an unreachable etcd: one line, exit 255, no command run,
// within a bounded time; in the foreground and the background alike.
func TestSemBadInput(t *testing.T) {
	dir := t.TempDir()
	job := "touch " + dir + "/ran"
	for _, c := range []struct{ name, url, want string }{
		{"no name", "etcd://127.0.0.1:2379", "no cap name"},
		{"bad name", "etcd://127.0.0.1:2379/a+b", "not allowed"},
		{"bad port", "etcd://127.0.0.1:x/a", "bad port"},
		{"unreachable", "etcd://127.0.0.1:1/a", "did not answer"},
	} {
		for _, fg := range []bool{true, false} {
			args := []string{"--id", c.url, job}
			if fg {
				args = append([]string{"--fg"}, args...)
			}
			start := time.Now()
			out, errs, code := result(t, sem(args...))
			took := time.Since(start)
			if code != 255 || out != "" || !strings.HasPrefix(errs, "poolrun: sem --id ") || strings.Count(errs, "\n") != 1 || !strings.Contains(errs, c.want) || took > 20*time.Second {
				t.Errorf("%s (fg %v): status %d in %v, stdout %q, stderr %q: want 255 and one line with %q", c.name, fg, code, took, out, errs, c.want)
			}
		}
	}
	if _, errs, code := result(t, sem("--wait", "--id", "etcd://127.0.0.1:1/a")); code != 255 || !strings.Contains(errs, "poolrun: sem --wait: ") || strings.Count(errs, "\n") != 1 {
		t.Errorf("--wait on an unreachable etcd: status %d, stderr %q: want 255 and one line", code, errs)
	}
	if _, err := os.Stat(dir + "/ran"); err == nil {
		t.Error("a command ran")
	}
}

// poolrun sem run etcd://…/NAME -j N -- command: the command runs on a
// slot, with its status; a nested poolrun runs on that slot.
func TestSemRunEtcd(t *testing.T) {
	m := etcdtest.Start(t)
	url := "etcd://" + m.Client + "/semrun"
	inner := filepath.Join(bin, "poolrun") + " -k echo in ::: a b"
	out, errs, code := result(t, poolrun(nil, "sem", "run", url, "-j", "1", "--", "sh", "-c", inner+"; exit 4"))
	if code != 4 || out != "in a\nin b\n" || errs != "" {
		t.Errorf("sem run: status %d, stdout %q, stderr %q: want 4 and the nested run's output", code, out, errs)
	}
	waitFor(t, "nothing left in etcd", func() bool { return len(keys(t, m.Client)) == 0 })
}

// Under make's jobserver (make -j2: the recipe's implicit token and one
// of make's), background sems of an etcd cap of 5 take make's token too:
// two commands and the recipe's own work never run three at once, all
// run, and make gets its token back (it says nothing about lost ones).
func TestSemEtcdUnderMake(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("make is not installed")
	}
	m := etcdtest.Start(t)
	dir := t.TempDir()
	os.Mkdir(dir+"/run", 0o755)
	os.Mkdir(dir+"/ran", 0o755)
	os.Mkdir(dir+"/started", 0o755)
	url := "etcd://" + m.Client + "/semmake"
	// Each holds until two have started (at most 10 s), then 0.3 s: the
	// window in which a third would start too.
	rec := func(name string) string {
		return `f=` + dir + `/run/` + name + `; : > $$f; : > ` + dir + `/started/` + name + `; n=$$(ls ` + dir + `/run | wc -l); [ $$n -le 2 ] || echo $$n >> ` + dir + `/over; i=0; while [ $$(ls ` + dir + `/started | wc -l) -lt 2 ] && [ $$i -lt 1000 ]; do sleep 0.01; i=$$((i+1)); done; : > ` + dir + `/ran/` + name + `; sleep 0.3; rm $$f`
	}
	recipe := fmt.Sprintf("+@%s --id %s -j 5 '%s'; %s --id %s -j 5 '%s'; %s; %s --wait --id %s",
		semBin(), url, rec("c1"), semBin(), url, rec("c2"), rec("r"), semBin(), url)
	mk := filepath.Join(dir, "Makefile")
	if err := os.WriteFile(mk, []byte("all:\n\t"+recipe+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("make", "-s", "-j2", "-f", mk)
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); k != "MAKEFLAGS" && k != "MFLAGS" && k != "MAKELEVEL" {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	out, errs, code := result(t, cmd)
	if code != 0 || out != "" || errs != "" {
		t.Errorf("make: status %d, stdout %q, stderr %q: want 0 and nothing (no token lost)", code, out, errs)
	}
	if b, err := os.ReadFile(dir + "/over"); err == nil {
		t.Errorf("more than make's 2 tokens at once: %q", b)
	}
	if ran, _ := os.ReadDir(dir + "/ran"); len(ran) != 3 {
		t.Errorf("%d ran, want 3", len(ran))
	}
}
