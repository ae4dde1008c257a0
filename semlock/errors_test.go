package semlock_test

import (
	"errors"
	"strings"
	"syscall"
	"testing"

	"github.com/poolrun/poolrun/internal/leakcheck"
	"github.com/poolrun/poolrun/semlock"
)

// An Error ends with the errno's name from golang.org/x/sys/unix, or,
// for an errno unix does not name, with its number and text.
func TestErrorErrnoName(t *testing.T) {
	for _, c := range []struct {
		errno syscall.Errno
		want  string
	}{
		{syscall.EIDRM, "semlock: acquire set 7: set was removed (EIDRM)"},
		{syscall.EINVAL, "semlock: acquire set 7: set was removed (EINVAL)"},
		{syscall.EINTR, "semlock: acquire set 7: set was removed (EINTR)"}, // named by unix, not by the old table
		{syscall.Errno(4095), "semlock: acquire set 7: set was removed (errno 4095: errno 4095)"},
	} {
		e := &semlock.Error{Op: "acquire", ID: 7, Kind: semlock.ErrRemoved, Errno: c.errno}
		if got := e.Error(); got != c.want {
			t.Errorf("errno %d: %q, want %q", int(c.errno), got, c.want)
		}
	}
}

// A kernel error names its errno: attaching to a removed set is EINVAL.
func TestAttachRemovedNamesErrno(t *testing.T) {
	leakcheck.Check(t)
	s, err := semlock.New(semlock.Semaphore, 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	h := s.Handle()
	if err := s.Remove(); err != nil {
		t.Fatal(err)
	}
	_, err = semlock.Attach(h)
	var e *semlock.Error
	if !errors.As(err, &e) || !errors.Is(err, semlock.ErrRemoved) || e.Errno != syscall.EINVAL {
		t.Fatalf("attach of a removed set: %v, want ErrRemoved with EINVAL", err)
	}
	if got := err.Error(); !strings.HasSuffix(got, " (EINVAL)") {
		t.Errorf("attach of a removed set: %q, want it to end with (EINVAL)", got)
	}
}
