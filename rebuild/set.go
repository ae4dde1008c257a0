package rebuild

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"

	"github.com/poolrun/poolrun/semlock"
)

// Set is the SemLocks a process received, attached, by name.
type Set struct {
	locks map[string]*semlock.SemLock
}

// FromEnv decodes os.Getenv(EnvVar) and attaches every handle with
// semlock.Attach, which verifies that each set is still the one the parent
// shared. An unset or empty variable gives an empty Set. If any handle
// fails, nothing stays attached and the error names the variable and the
// handle: a set that is gone or whose id now names another set is an
// error matching semlock.ErrStale (and semlock.ErrRemoved when it is
// simply gone); a set whose kind, max, key or owner disagree with the
// handle matches semlock.ErrMismatch.
func FromEnv() (*Set, error) {
	return attach(os.Getenv(EnvVar))
}

// attach is FromEnv for a value obtained elsewhere (tests pass one).
func attach(value string) (*Set, error) {
	s := &Set{locks: map[string]*semlock.SemLock{}}
	if value == "" {
		return s, nil
	}
	hs, err := Decode(value)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(hs))
	for name := range hs {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		l, err := semlock.Attach(hs[name])
		if err != nil {
			s.Close()
			if errors.Is(err, semlock.ErrRemoved) {
				// From the child's side a handle whose set is gone is
				// stale, just like one whose id was reused.
				err = goneError{err}
			}
			return nil, fmt.Errorf("rebuild: %s: handle %s (set %d): %w", EnvVar, strconv.Quote(name), hs[name].ID, err)
		}
		s.locks[name] = l
	}
	return s, nil
}

// Lookup returns the SemLock shared under name.
func (s *Set) Lookup(name string) (*semlock.SemLock, bool) {
	if s == nil {
		return nil, false
	}
	l, ok := s.locks[name]
	return l, ok
}

// Names returns the names in the set, sorted.
func (s *Set) Names() []string {
	if s == nil {
		return nil
	}
	names := make([]string, 0, len(s.locks))
	for name := range s.locks {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// Handles returns the handle of every SemLock in the set, by name: what to
// Encode to pass them on to a grandchild.
func (s *Set) Handles() map[string]semlock.Handle {
	hs := make(map[string]semlock.Handle, len(s.Names()))
	if s == nil {
		return hs
	}
	for name, l := range s.locks {
		hs[name] = l.Handle()
	}
	return hs
}

// Close closes every SemLock of the set in this process (the sets stay in
// the kernel: they belong to the parent).
func (s *Set) Close() error {
	if s == nil {
		return nil
	}
	var errs []error
	for _, l := range s.locks {
		errs = append(errs, l.Close())
	}
	return errors.Join(errs...)
}

// goneError is a handle whose set was removed: it matches
// semlock.ErrStale as well as the semlock error it wraps.
type goneError struct{ err error }

func (e goneError) Error() string {
	return "stale handle: the set is gone (its creator removed it, or died and the set was cleaned up): " + e.err.Error()
}

func (e goneError) Unwrap() []error { return []error{semlock.ErrStale, e.err} }
