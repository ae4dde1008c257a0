//go:build linux

package jobserver_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// runUnderMake runs this test binary as a jobserver client in the one
// recipe of a Makefile, under make -jJ, and returns make's output.
func runUnderMake(t *testing.T, j, recipe string, env ...string) string {
	t.Helper()
	needMake(t)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	mk := filepath.Join(t.TempDir(), "Makefile")
	body := "all:\n\t" + strings.ReplaceAll(recipe, "@EXE@", exe) + "\n"
	if err := os.WriteFile(mk, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("make", "-s", j, "-f", mk)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("make: %v\n%s", err, out)
	}
	return string(out)
}

// Under make -j4, a recursive recipe's client has four slots: its
// implicit token and make's three; it gives them back (make says
// nothing about lost tokens when it exits).
func TestClientUnderMake(t *testing.T) {
	out := runUnderMake(t, "-j4", "+JOBSERVER_TEST_CLIENT=1 @EXE@")
	if strings.TrimSpace(out) != "slots: 4" {
		t.Errorf("make -j4 with a + recipe: %q, want slots: 4 and nothing else", out)
	}
}

// AcquireToken reads make's tokens only, never the implicit one: under
// make -j3 it gets two, and a third wait ends with its deadline although
// the implicit token is free; GiveBack returns them (make says nothing
// about lost tokens).
func TestClientAcquireToken(t *testing.T) {
	out := runUnderMake(t, "-j3", "+JOBSERVER_TEST_CLIENT=token @EXE@")
	if out != "then: jobserver: waiting for a token: context deadline exceeded\ntokens: 2\n" {
		t.Errorf("make -j3: %q, want two tokens, then a wait that ends with its deadline, and nothing else", out)
	}
}

// A recipe make 4.3 does not take as recursive is named the jobserver
// but gets no descriptors (4.4 names -2,-2): the client says what is
// wrong and what to do.
func TestClientNotRecursive(t *testing.T) {
	out := runUnderMake(t, "-j4", "JOBSERVER_TEST_CLIENT=1 @EXE@")
	if !strings.Contains(out, "error: jobserver: MAKEFLAGS names --jobserver-auth=") || !strings.Contains(out, "prefix the recipe with +") {
		t.Errorf("make -j4 without +: %q, want the disabled jobserver named", out)
	}
}

// Two clients of one make -j3 share its tokens: one holds what it can
// have, the other waits for one more, and is cancelled cleanly; make
// gets every token back.
func TestClientWaitCancelled(t *testing.T) {
	out := runUnderMake(t, "-j3", "+echo | JOBSERVER_TEST_CLIENT=wait @EXE@")
	if !strings.Contains(out, "slots: 3") || !strings.Contains(out, "wait: jobserver: waiting for a token: context canceled") {
		t.Errorf("%q: want 3 slots, then a cancelled wait", out)
	}
}

// Bad jobserver words: a clear error each, never a hang.
func TestClientBadInput(t *testing.T) {
	dir := t.TempDir()
	plain := filepath.Join(dir, "plain")
	os.WriteFile(plain, nil, 0o644)
	for _, c := range []struct{ flags, want string }{
		{" -j4 --jobserver-auth=57,58", "descriptor 57 is not open"},
		{" --jobserver-auth=0,1", "is not a pipe"},
		{" --jobserver-auth=fifo:" + filepath.Join(dir, "none"), "no such file or directory"},
		{" --jobserver-auth=fifo:" + plain, "not a fifo"},
		{" --jobserver-auth=fifo:", "an empty fifo path"},
		{" --jobserver-auth=3", "want R,W"},
		{" --jobserver-auth=x,y", "want R,W"},
		{" --jobserver-auth=-2,-2", "disabled"},
	} {
		cmd := exec.Command(os.Args[0])
		cmd.Env = append(os.Environ(), "JOBSERVER_TEST_CLIENT=1", "MAKEFLAGS="+c.flags)
		// stdin is /dev/null: not a pipe.
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.HasPrefix(string(out), "error: ") || !strings.Contains(string(out), c.want) || strings.Count(string(out), "\n") != 1 {
			t.Errorf("MAKEFLAGS=%q: %v %q, want one line with %q", c.flags, err, out, c.want)
		}
	}
}
