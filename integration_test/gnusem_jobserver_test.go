//go:build linux

package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/poolrun/poolrun/internal/leakcheck"
)

// The GNU sem personality under make's jobserver (docs/jobserver.md, "GNU
// sem under make"), with the real make 4.3: a background sem's command
// holds one of make's tokens, given back when it ends however it ends;
// --fg runs on the recipe's own.

// makeBounded runs make with args in the clean environment and returns
// its combined output; a make that has not ended after two minutes (a
// deadlock) is killed, with its process group, and the test fails.
func makeBounded(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command("make", args...)
	cmd.Env = cleanEnv()
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("make %q: %v\n%s", args, err, out.String())
		}
	case <-time.After(2 * time.Minute):
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
		t.Fatalf("make %q did not end within two minutes (a deadlock?)\n%s", args, out.String())
	}
	return out.String()
}

// semMakefile writes a Makefile whose target all runs the targets t1..tN
// (recipe, %N its number), then `later`: a sub-make of four recipes that
// record into laterRec, which reaches make's full -j only if every token
// is back.
func semMakefile(t *testing.T, n int, recipe string, later *jsRec) string {
	t.Helper()
	dir := t.TempDir()
	sub := makefile(t, 4, fmt.Sprintf("%s %s %%N 2 0.2", later.sh, later.dir))
	var b strings.Builder
	b.WriteString("all: later\nlater:")
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, " t%d", i)
	}
	fmt.Fprintf(&b, "\n\t+@$(MAKE) -s -f %s\n", sub)
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "t%d:\n\t+@%s\n", i, strings.ReplaceAll(recipe, "%N", fmt.Sprint(i)))
	}
	p := filepath.Join(dir, "Makefile")
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// make -j2 of three recipes, each starting three background `sem -j 10`
// commands, then doing work of its own, then sem --wait: make's two
// tokens bind everything — never more than 2 of the commands and the
// recipes' own work at once (without the jobserver the three commands of
// a recipe would run together), all of them run, nothing deadlocks
// (every token of make's can be held by a recipe waiting in sem), and no
// token is lost: the later sub-make reaches -j2, and make does not say
// "INTERNAL: Exiting with N jobserver tokens available".
func TestGNUSemUnderMake(t *testing.T) {
	needTool(t, "make")
	leakcheck.Check(t)
	r, later := newJSRec(t), newJSRec(t)
	id := semID(t)
	recipe := fmt.Sprintf(`for i in 1 2 3; do %[1]s -j 10 --id %[2]s sh %[3]s %[4]s c%%N-$$i 2 0.2; done; sh %[3]s %[4]s r%%N 2 0.2; %[1]s --wait --id %[2]s`,
		semBin(), id, r.sh, r.dir)
	out := makeBounded(t, "-s", "-j2", "-f", semMakefile(t, 3, recipe, later))
	ended, most := r.counts(t)
	if ended != 12 || most != 2 {
		t.Errorf("make -j2 of three recipes of three background sems each: %d commands and recipes ended, %d at once: want 12, 2", ended, most)
	}
	if ended, most := later.counts(t); ended != 4 || most != 2 || out != "" {
		t.Errorf("the later sub-make: %d recipes ended, %d at once, make's output %q: want 4, 2 (no token lost) and none", ended, most, out)
	}
}

// One recipe under make -j2 (its implicit token and one of make's): two
// background commands and then the recipe's own work never run three at
// once — the second sem returns only once it holds make's token or its
// command has ended — and all run.
func TestGNUSemUnderMakeOneRecipe(t *testing.T) {
	needTool(t, "make")
	leakcheck.Check(t)
	r, later := newJSRec(t), newJSRec(t)
	id := semID(t)
	recipe := fmt.Sprintf(`%[1]s -j 5 --id %[2]s sh %[3]s %[4]s c1 2 0.3; %[1]s -j 5 --id %[2]s sh %[3]s %[4]s c2 2 0.3; sh %[3]s %[4]s r 2 0.3; %[1]s --wait --id %[2]s`,
		semBin(), id, r.sh, r.dir)
	out := makeBounded(t, "-s", "-j2", "-f", semMakefile(t, 1, recipe, later))
	ended, most := r.counts(t)
	if ended != 3 || most != 2 {
		t.Errorf("make -j2, one recipe of two background sems and its own work: %d ended, %d at once: want 3, 2", ended, most)
	}
	if ended, most := later.counts(t); ended != 4 || most != 2 || out != "" {
		t.Errorf("the later sub-make: %d recipes ended, %d at once, make's output %q: want 4, 2 (no token lost) and none", ended, most, out)
	}
}

// Every way a background command ends gives make's token back: it fails,
// --timeout kills it, its holder gets SIGTERM (the holder stops the
// command first), sem itself gets SIGTERM while it waits for a token
// (it stops its command). The later sub-make reaches -j2 and make says
// nothing about lost tokens. --fg runs on the recipe's token: under make
// -j1 (no jobserver word) and -j2 alike it just runs.
func TestGNUSemUnderMakeGivesBack(t *testing.T) {
	needTool(t, "make")
	leakcheck.Check(t)
	later := newJSRec(t)
	dir := t.TempDir()
	id := semID(t)
	pid, waiting := filepath.Join(dir, "pid"), filepath.Join(dir, "waiting")
	recipe := strings.Join([]string{
		fmt.Sprintf(`%s --id %s 'exit 3'`, semBin(), id),
		fmt.Sprintf(`%s --id %s --timeout 0.3 'sleep 30'`, semBin(), id),
		fmt.Sprintf(`%s --id %s -j 3 'echo $$$$ > %s.tmp; mv %s.tmp %s; exec sleep 60'`, semBin(), id, pid, pid, pid),
		// The holder of that command: SIGTERM it, wait until the command is gone.
		fmt.Sprintf(`while [ ! -s %[1]s ]; do sleep 0.01; done; p=$$(cat %[1]s); kill -TERM $$(ps -o ppid= -p $$p); while kill -0 $$p 2>/dev/null; do sleep 0.01; done`, pid),
		// A command that holds the one token of make's, and a second sem
		// (in the shell's background: the recipe goes on) that waits for a
		// token with its command started: SIGTERM that sem; its command goes.
		fmt.Sprintf(`%s --id %s -j 3 'echo $$$$ > %s.tmp; mv %s.tmp %s; exec sleep 60'`, semBin(), id, pid+"2", pid+"2", pid+"2"),
		fmt.Sprintf(`%s --id %s -j 3 'echo $$$$ > %s.tmp; mv %s.tmp %s; exec sleep 60' & s=$$!`, semBin(), id, waiting, waiting, waiting),
		fmt.Sprintf(`while [ ! -s %[1]s ]; do sleep 0.01; done; kill -TERM $$s; wait $$s; p=$$(cat %[1]s); while kill -0 $$p 2>/dev/null; do sleep 0.01; done`, waiting),
		// Then the first one's holder.
		fmt.Sprintf(`while [ ! -s %[1]s ]; do sleep 0.01; done; kill -TERM $$(ps -o ppid= -p $$(cat %[1]s))`, pid+"2"),
		fmt.Sprintf(`%s --wait --id %s`, semBin(), id),
		fmt.Sprintf(`%s --fg --id %s 'echo fg'`, semBin(), id),
	}, "; ")
	out := makeBounded(t, "-s", "-j2", "-f", semMakefile(t, 1, recipe, later))
	want := "poolrun: Warning: This job was killed because it timed out:\npoolrun: Warning: sleep 30 \nfg\n"
	if ended, most := later.counts(t); ended != 4 || most != 2 || out != want {
		t.Errorf("the later sub-make: %d recipes ended, %d at once, make's output %q: want 4, 2 (no token lost) and %q", ended, most, out, want)
	}
}

// A bad MAKEFLAGS (a recipe without +: make 4.3 names its jobserver but
// closes its descriptors) is one warning line, and sem runs as without a
// jobserver; --no-jobserver reads nothing (not even the warning).
func TestGNUSemBadMakeflags(t *testing.T) {
	leakcheck.Check(t)
	dir := t.TempDir()
	id := semID(t)
	for _, c := range []struct {
		flags, want string
	}{
		{"", "warning: MAKEFLAGS names --jobserver-auth=57,58: descriptor 57 is not open"},
		{"--no-jobserver ", ""},
	} {
		res := semShell(t, semBin(), dir, c.flags+"--id "+id+" 'echo ran'", "", "MAKEFLAGS= -j2 --jobserver-auth=57,58")
		if w := semShell(t, semBin(), dir, "--wait --id "+id, ""); w.code != 0 {
			t.Fatalf("sem --wait: %d %s", w.code, w.stderr)
		}
		ls := lines(res.stderr)
		ok := c.want == "" && len(ls) == 0 || len(ls) == 1 && strings.HasPrefix(ls[0], "poolrun: ") && strings.Contains(ls[0], c.want) && strings.HasSuffix(ls[0], "sem runs without it")
		if res.code != 0 || !ok {
			t.Errorf("%sMAKEFLAGS with closed descriptors: exit %d, stderr %q: want 0 and %q", c.flags, res.code, res.stderr, c.want)
		}
	}
}
