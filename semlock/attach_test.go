package semlock_test

import (
	"context"
	"errors"
	"math"
	"os"
	"strings"
	"testing"

	"github.com/poolrun/poolrun/internal/leakcheck"
	"github.com/poolrun/poolrun/semlock"
)

// Attach verifies the handle against the set and names what differs:
// ErrStale when the id names another set (token, creator), ErrMismatch
// when it is the handle's set but a field disagrees.
func TestAttachVerifies(t *testing.T) {
	leakcheck.Check(t)
	s := newSet(t, semlock.Semaphore, 1, 3)
	good := s.Handle()
	if a, err := semlock.Attach(good); err != nil || a.Handle() != good {
		t.Fatalf("attach of a good handle: %v", err)
	}
	m := newSet(t, semlock.Mutex, 1, 1)
	named, err := semlock.Open(uniqueName(t), semlock.Semaphore, 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { named.Remove() })

	tamper := func(f func(*semlock.Handle)) semlock.Handle {
		h := good
		f(&h)
		return h
	}
	cases := []struct {
		name  string
		h     semlock.Handle
		is    error
		field string // the error names it
	}{
		{"token", tamper(func(h *semlock.Handle) { h.Token ^= 1 }), semlock.ErrStale, "token"},
		{"token high half", tamper(func(h *semlock.Handle) { h.Token ^= 1 << 20 }), semlock.ErrStale, "token"},
		{"creator", tamper(func(h *semlock.Handle) { h.Creator++ }), semlock.ErrStale, "creator"},
		{"kind", tamper(func(h *semlock.Handle) { h.Kind = semlock.Mutex }), semlock.ErrMismatch, "kind"},
		{"max", tamper(func(h *semlock.Handle) { h.MaxValue = 4 }), semlock.ErrMismatch, "max"},
		{"undo", tamper(func(h *semlock.Handle) { h.Undo = false }), semlock.ErrMismatch, "undo"},
		{"key", tamper(func(h *semlock.Handle) { h.Key = 42 }), semlock.ErrMismatch, "key"},
		{"name", tamper(func(h *semlock.Handle) { h.Name = "someone-else" }), semlock.ErrMismatch, "name"},
		{"named set's name", func() semlock.Handle { h := named.Handle(); h.Name += "x"; return h }(), semlock.ErrMismatch, "name"},
		{"another set's id", tamper(func(h *semlock.Handle) { h.ID = m.ID() }), semlock.ErrStale, "token"},
		{"bad kind", tamper(func(h *semlock.Handle) { h.Kind = 7 }), semlock.ErrRange, "kind"},
		{"negative id", tamper(func(h *semlock.Handle) { h.ID = -1 }), semlock.ErrRange, "id"},
		{"huge id", tamper(func(h *semlock.Handle) { h.ID = good.ID + 1<<32 }), semlock.ErrRange, "id"},
		{"max id", tamper(func(h *semlock.Handle) { h.ID = math.MaxInt32 }), semlock.ErrRemoved, "set"},
		{"zero handle", semlock.Handle{}, semlock.ErrRange, "kind"},
	}
	for _, c := range cases {
		_, err := semlock.Attach(c.h)
		if !errors.Is(err, c.is) || !strings.Contains(err.Error(), c.field) || !strings.HasPrefix(err.Error(), "semlock: ") {
			t.Errorf("%s: %v; want %v naming %q", c.name, err, c.is, c.field)
		}
	}
	// A removed set.
	gone := newSet(t, semlock.Semaphore, 1, 1)
	gh := gone.Handle()
	gone.Remove()
	if _, err := semlock.Attach(gh); !errors.Is(err, semlock.ErrRemoved) {
		t.Errorf("attach of a removed set: %v, want ErrRemoved", err)
	}
}

// Bad input is a clear error, never a panic or a hang.
func TestBadInput(t *testing.T) {
	leakcheck.Check(t)
	news := []struct {
		kind       semlock.Kind
		value, max int
		opts       []semlock.Option
		is         error
		says       string
	}{
		{semlock.Mutex, 0, 1, nil, semlock.ErrRange, "mutex has value 1 and max 1"},
		{semlock.Mutex, 1, 2, nil, semlock.ErrRange, "mutex has value 1 and max 1"},
		{semlock.Mutex, 1, 1, []semlock.Option{semlock.WithoutUndo()}, semlock.ErrRange, "WithoutUndo"},
		{semlock.Semaphore, 3, 2, nil, semlock.ErrRange, "value 3"},
		{semlock.Semaphore, -1, 2, nil, semlock.ErrRange, "value -1"},
		{semlock.Semaphore, 0, 0, nil, semlock.ErrRange, "max 0"},
		{semlock.Semaphore, 0, semlock.MaxValue + 1, nil, semlock.ErrRange, "max 32768"},
		{semlock.Semaphore, math.MinInt, math.MaxInt, nil, semlock.ErrRange, "max"},
		{0, 1, 1, nil, semlock.ErrRange, "unknown kind"},
		{semlock.Kind(200), 1, 1, nil, semlock.ErrRange, "unknown kind"},
		{semlock.Semaphore, 1, 1, []semlock.Option{semlock.WithMode(os.ModeSetuid | 0o600)}, semlock.ErrRange, "WithMode"},
		{semlock.Mutex, 1, 1, []semlock.Option{semlock.WithMode(os.ModeDir | 0o600)}, semlock.ErrRange, "WithMode"},
	}
	for _, c := range news {
		if s, err := semlock.New(c.kind, c.value, c.max, c.opts...); !errors.Is(err, c.is) || !strings.Contains(err.Error(), c.says) {
			if s != nil {
				s.Remove()
			}
			t.Errorf("New(%v, %d, %d): %v; want %v saying %q", c.kind, c.value, c.max, err, c.is, c.says)
		}
		if s, err := semlock.Open("bad-input", c.kind, c.value, c.max, c.opts...); !errors.Is(err, c.is) {
			if s != nil {
				s.Remove()
			}
			t.Errorf("Open(%v, %d, %d): %v; want %v", c.kind, c.value, c.max, err, c.is)
		}
	}
	if s, err := semlock.New(semlock.Semaphore, 1, 1, nil); err != nil {
		t.Errorf("New with a nil option: %v", err)
	} else {
		s.Remove()
	}
	// The other makers of sets check their options the same way.
	badMode := semlock.WithMode(os.ModeSticky | 0o600)
	if ev, err := semlock.NewEvent(badMode); !errors.Is(err, semlock.ErrRange) || !strings.Contains(err.Error(), "WithMode") {
		if ev != nil {
			ev.Remove()
		}
		t.Errorf("NewEvent(WithMode(sticky)): %v, want ErrRange saying WithMode", err)
	}
	if b, err := semlock.NewBarrier(2, nil, badMode); !errors.Is(err, semlock.ErrRange) || !strings.Contains(err.Error(), "WithMode") {
		if b != nil {
			b.Remove()
		}
		t.Errorf("NewBarrier(WithMode(sticky)): %v, want ErrRange saying WithMode", err)
	}
	mu := newSet(t, semlock.Mutex, 1, 1)
	if c, err := semlock.NewCondition(mu, badMode); !errors.Is(err, semlock.ErrRange) || !strings.Contains(err.Error(), "WithMode") {
		if c != nil {
			c.Remove()
		}
		t.Errorf("NewCondition(WithMode(sticky)): %v, want ErrRange saying WithMode", err)
	}
	if ev, err := semlock.NewEvent(nil); err != nil {
		t.Errorf("NewEvent with a nil option: %v", err)
	} else {
		ev.Remove()
	}
	for _, name := range []string{"", "-lead", ".x", "has space", "slash/", "nul\x00", "é", strings.Repeat("a", semlock.MaxNameLen+1)} {
		if _, err := semlock.Open(name, semlock.Semaphore, 1, 1); !errors.Is(err, semlock.ErrName) {
			t.Errorf("Open(%q): %v, want ErrName", name, err)
		}
		if _, err := semlock.LookupName(name); !errors.Is(err, semlock.ErrName) {
			t.Errorf("LookupName(%q): %v, want ErrName", name, err)
		}
	}
	if err := semlock.ValidateName(strings.Repeat("a", semlock.MaxNameLen)); err != nil {
		t.Errorf("a name of MaxNameLen: %v", err)
	}
	if _, err := semlock.ParseKind("rwlock"); err == nil {
		t.Error("ParseKind(rwlock) succeeded")
	}
	for _, k := range []semlock.Kind{semlock.Semaphore, semlock.Mutex} {
		if got, err := semlock.ParseKind(k.String()); got != k || err != nil {
			t.Errorf("ParseKind(%q) = %v, %v", k.String(), got, err)
		}
	}
	for _, id := range []int{-1, 1 << 32, math.MinInt} {
		if err := semlock.RemoveID(id); !errors.Is(err, semlock.ErrRange) {
			t.Errorf("RemoveID(%d): %v, want ErrRange", id, err)
		}
	}

	// Every call after Close is ErrClosed; the set stays.
	s := newSet(t, semlock.Semaphore, 1, 1)
	c, err := semlock.Attach(s.Handle())
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	_, err1 := c.TryAcquire()
	_, err2 := c.Value()
	_, err3 := c.Waiters()
	for i, err := range []error{c.Acquire(context.Background()), c.Release(), c.Remove(), err1, err2, err3} {
		if !errors.Is(err, semlock.ErrClosed) {
			t.Errorf("call %d after Close: %v, want ErrClosed", i, err)
		}
	}
	assertValue(t, s, 1)
	// A second Remove through the same SemLock.
	if err := s.Remove(); err != nil {
		t.Fatal(err)
	}
	if err := s.Remove(); !errors.Is(err, semlock.ErrClosed) {
		t.Errorf("second Remove: %v, want ErrClosed", err)
	}
}
