package leakcheck_test

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"

	"github.com/poolrun/poolrun/internal/leakcheck"
	"github.com/poolrun/poolrun/semlock"
)

// fakeTB records what Check reports and runs its cleanups on demand.
type fakeTB struct {
	testing.TB
	cleanups []func()
	errors   []string
}

func (f *fakeTB) Helper()           {}
func (f *fakeTB) Cleanup(fn func()) { f.cleanups = append(f.cleanups, fn) }
func (f *fakeTB) Errorf(format string, args ...any) {
	f.errors = append(f.errors, fmt.Sprintf(format, args...))
}
func (f *fakeTB) end() {
	for i := len(f.cleanups) - 1; i >= 0; i-- {
		f.cleanups[i]()
	}
}

func TestReportsAndRemovesLeak(t *testing.T) {
	f := &fakeTB{TB: t}
	leakcheck.Check(f)
	s, err := semlock.New(semlock.Semaphore, 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	f.end()
	if len(f.errors) != 1 || !strings.Contains(f.errors[0], fmt.Sprintf("set %d", s.ID())) {
		t.Fatalf("reports %q, want the leaked set %d", f.errors, s.ID())
	}
	if _, err := s.Value(); err == nil {
		t.Fatal("the leaked set was not removed")
	}
}

func TestCleanTestPasses(t *testing.T) {
	f := &fakeTB{TB: t}
	leakcheck.Check(f)
	s, err := semlock.New(semlock.Mutex, 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	s.Remove()
	f.end()
	if len(f.errors) != 0 {
		t.Fatalf("reports %q for a test that removed its set", f.errors)
	}
}

// While another Check is active, a leftover set may be the other test's:
// the last Check to end reports it.
func TestParallelChecksDeferToTheLast(t *testing.T) {
	a, b := &fakeTB{TB: t}, &fakeTB{TB: t}
	leakcheck.Check(a)
	leakcheck.Check(b)
	s, err := semlock.New(semlock.Semaphore, 1, 1) // b's, say
	if err != nil {
		t.Fatal(err)
	}
	a.end()
	if len(a.errors) != 0 {
		t.Fatalf("a reported %q while b was running", a.errors)
	}
	b.end()
	if len(b.errors) != 1 || !strings.Contains(b.errors[0], fmt.Sprintf("set %d", s.ID())) {
		t.Fatalf("b reports %q, want set %d", b.errors, s.ID())
	}
}

func TestMine(t *testing.T) {
	cmd := exec.Command("sleep", "10")
	if err := cmd.Start(); err != nil {
		t.Skip(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	if !leakcheck.Mine(cmd.Process.Pid) {
		t.Error("a live child is not ours")
	}
	if leakcheck.Mine(1) {
		t.Error("pid 1 is ours")
	}
}
