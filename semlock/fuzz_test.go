package semlock_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/poolrun/poolrun/internal/leakcheck"
	"github.com/poolrun/poolrun/semlock"
)

func FuzzValidateName(f *testing.F) {
	for _, s := range []string{"build-jobs", "a", "A.b_c-9", "", "-x", "a b", "a/b", "\x00", "é", strings.Repeat("z", 129)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		err := semlock.ValidateName(name)
		valid := len(name) >= 1 && len(name) <= semlock.MaxNameLen
		for i := 0; valid && i < len(name); i++ {
			c := name[i]
			alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
			valid = alnum || i > 0 && strings.IndexByte("._-", c) >= 0
		}
		if valid != (err == nil) {
			t.Fatalf("ValidateName(%q) = %v, want valid=%v", name, err, valid)
		}
		if err != nil && (!errors.Is(err, semlock.ErrName) || !strings.HasPrefix(err.Error(), "semlock: ")) {
			t.Fatalf("ValidateName(%q): %v is not a semlock ErrName error", name, err)
		}
	})
}

// FuzzAttach: a handle made from a real one by random changes never
// panics, and attaches only if nothing was changed: Attach never attaches
// to a set that does not match the handle.
func FuzzAttach(f *testing.F) {
	leakcheck.Check(f)
	// One real set per process (the fuzzing workers run this too).
	s, err := semlock.New(semlock.Semaphore, 1, 3)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { s.Remove() })
	real := s.Handle()
	f.Add("", int32(0), 0, uint8(0), 0, false, 0, uint32(0))
	f.Add("x", int32(1), 1, uint8(1), 1, true, 1, uint32(1))
	f.Add("", int32(0), -1<<40, uint8(3), -3, false, -1, uint32(1<<31))
	f.Fuzz(func(t *testing.T, name string, keyXor int32, idDelta int, kind uint8, maxDelta int, undoFlip bool, creatorDelta int, tokenXor uint32) {
		h := real
		h.Name = name
		h.Key ^= keyXor
		h.ID += idDelta
		h.Kind ^= semlock.Kind(kind)
		h.MaxValue += maxDelta
		h.Undo = h.Undo != undoFlip
		h.Creator += creatorDelta
		h.Token ^= tokenXor
		s, err := semlock.Attach(h)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "semlock: ") {
				t.Fatalf("error without the package prefix: %v", err)
			}
			return
		}
		if h != real {
			t.Fatalf("attached %+v, a handle that does not match the set %+v", h, real)
		}
		s.Close()
	})
}
