package batch

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/poolrun/poolrun/internal/leakcheck"
)

// Argv runs each input as it is: no shell, no replacement strings.
func TestArgvRunsInputsAsTheyAre(t *testing.T) {
	leakcheck.Check(t)
	r := runSpec(t, context.Background(), Spec{Argv: true, Inputs: Args("echo"), Jobs: 1})
	if r.err != nil || r.stdout != "\n" {
		t.Fatalf("%q, %v", r.stdout, r.err)
	}
	src := &tableSource{rows: [][]string{{"echo", "{}", "$HOME", "a;b"}}}
	r = runSpec(t, context.Background(), Spec{Argv: true, Inputs: src, Jobs: 1})
	if r.err != nil || r.stdout != "{} $HOME a;b\n" {
		t.Fatalf("%q, %v", r.stdout, r.err)
	}
	if _, err := Run(context.Background(), Spec{Argv: true, Command: []string{"echo"}}); err == nil {
		t.Error("Argv with a Command ran")
	}
}

type tableSource struct{ rows [][]string }

func (s *tableSource) Next() ([]string, error) {
	if len(s.rows) == 0 {
		return nil, io.EOF
	}
	r := s.rows[0]
	s.rows = s.rows[1:]
	return r, nil
}

// Ended hears of every job's end; a true from it starts no more jobs.
// A program that is not found, or not executable, is a StartErr, and
// Run prints nothing of its own for it.
func TestEndedStopsTheBatch(t *testing.T) {
	leakcheck.Check(t)
	dir := t.TempDir()
	noexec := filepath.Join(dir, "noexec")
	os.WriteFile(noexec, nil, 0o644)
	var mu sync.Mutex
	var ends []JobEnd
	spec := Spec{
		Argv: true, Jobs: 1,
		Inputs: &tableSource{rows: [][]string{{"true"}, {"sh", "-c", "exit 3"}, {"sh", "-c", "kill -9 $$"}, {"no-such-program-poolrun"}, {noexec}, {"sh", "-c", "exit 255"}, {"echo", "never"}}},
		Ended: func(e JobEnd) bool {
			mu.Lock()
			defer mu.Unlock()
			ends = append(ends, e)
			return e.Exit == 255
		},
	}
	r := runSpec(t, context.Background(), spec)
	if r.err != nil || r.stdout != "" || r.stderr != "" {
		t.Fatalf("stdout %q stderr %q err %v", r.stdout, r.stderr, r.err)
	}
	if !r.sum.Halted || r.sum.HaltExit != 255 || len(ends) != 6 {
		t.Fatalf("summary %+v, %d ends: want halted by the exit 255, the 7th never started", r.sum, len(ends))
	}
	switch {
	case ends[0].Exit != 0, ends[1].Exit != 3, ends[2].Signal != 9 || ends[2].Exit != -1:
		t.Errorf("exits: %+v", ends[:3])
	case !errors.Is(ends[3].StartErr, fs.ErrNotExist) || ends[3].Exit != 127:
		t.Errorf("not found: %+v", ends[3])
	case !errors.Is(ends[4].StartErr, fs.ErrPermission):
		t.Errorf("not executable: %+v", ends[4])
	}
}

// A start that fails and stops the batch stops it before another starts,
// even with several slots.
func TestEndedStartFailureStopsAtOnce(t *testing.T) {
	leakcheck.Check(t)
	var rows [][]string
	for range 20 {
		rows = append(rows, []string{"no-such-program-poolrun"})
	}
	n := 0
	r := runSpec(t, context.Background(), Spec{Argv: true, Jobs: 4, Inputs: &tableSource{rows: rows},
		Ended: func(e JobEnd) bool { n++; return e.StartErr != nil }})
	if r.err != nil || n != 1 {
		t.Errorf("%d jobs ended (%v), want 1", n, r.err)
	}
}

// Before sees each command line just before it starts; false skips it.
func TestBeforeSkips(t *testing.T) {
	leakcheck.Check(t)
	var seen []string
	r := runSpec(t, context.Background(), Spec{Command: []string{"echo"}, Inputs: Args("a", "skip", "b"), Jobs: 1, KeepOrder: true,
		Before: func(argv []string) (bool, bool) {
			seen = append(seen, strings.Join(argv, " "))
			return argv[1] != "skip", false
		}})
	if r.err != nil || r.stdout != "a\nb\n" || strings.Join(seen, ",") != "echo a,echo skip,echo b" || r.sum.Started != 2 {
		t.Errorf("stdout %q, seen %q, started %d, %v", r.stdout, seen, r.sum.Started, r.err)
	}
	r = runSpec(t, context.Background(), Spec{Command: []string{"echo"}, Inputs: Args("a", "b"), Jobs: 1,
		Before: func([]string) (bool, bool) { return false, true }})
	if r.err != nil || r.stdout != "" || r.sum.Started != 0 {
		t.Errorf("stop: %q, %+v, %v", r.stdout, r.sum, r.err)
	}
}

// SlotVar is the slot from 0; JobStdin is the jobs' stdin.
func TestSlotVarAndJobStdin(t *testing.T) {
	leakcheck.Check(t)
	t.Setenv("XSLOT", "inherited")
	f, err := os.CreateTemp(t.TempDir(), "in")
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("from stdin\n")
	f.Seek(0, 0)
	defer f.Close()
	r := runSpec(t, context.Background(), Spec{Output: Ungrouped, Command: []string{`echo "$XSLOT"; cat; : {}`}, Inputs: Args("x"), Jobs: 1, SlotVar: "XSLOT", JobStdin: f})
	if r.err != nil || r.stdout != "0\nfrom stdin\n" {
		t.Errorf("%q, %v", r.stdout, r.err)
	}
}
