package spawn_test

import (
	"context"
	"os/exec"
	"strings"
	"testing"

	"github.com/poolrun/poolrun/internal/leakcheck"
	"github.com/poolrun/poolrun/semlock"
	"github.com/poolrun/poolrun/spawn"
)

// TestPythonAttach: the README's wire format and op arrays are enough for
// a program in another language: a Python script (ctypes only) finds the
// set in POOLRUN_SEMLOCKS, verifies it and takes a unit the parent sees.
func TestPythonAttach(t *testing.T) {
	leakcheck.Check(t)
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("no python3")
	}
	s, err := spawn.NewTracked(semlock.Semaphore, 2, 3, semlock.WithoutUndo())
	if err != nil {
		t.Fatal(err)
	}
	defer spawn.RemoveTracked(s)
	c := spawn.Command(context.Background(), "python3", "testdata/attach.py", "slots")
	c.Locks = map[string]*semlock.SemLock{"slots": s}
	var stderr strings.Builder
	c.Stderr = &stderr
	out, err := c.Output()
	if c.Process != nil {
		leakcheck.Track(c.Process.Pid)
	}
	if err != nil {
		if strings.Contains(stderr.String(), "No module named") {
			t.Skipf("python3 without ctypes: %s", stderr.String())
		}
		t.Fatalf("%v: %s%s", err, out, stderr.String())
	}
	if got := strings.TrimSpace(string(out)); got != "value=2 acquired=True" {
		t.Fatalf("python saw %q", got)
	}
	if v, err := s.Value(); err != nil || v != 1 {
		t.Fatalf("after python took a unit: %d, %v; want 1", v, err)
	}
}
