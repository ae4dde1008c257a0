package semlock

import (
	"testing"
)

// TestReadSetAcrossStackGrowth reads a set's record and values from every
// stack depth of a fresh goroutine, so that somewhere the stack grows —
// and moves — right as semctl is called. A uintptr made from a pointer
// into the caller's stack before the call would then point into the old
// copy, the kernel would write there, and the set would read as zeros:
// "not a poolrun set". (It did, about one run in three of TestOpenNames.)
func TestReadSetAcrossStackGrowth(t *testing.T) {
	s, err := New(Semaphore, 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Remove()
	id := s.Handle().ID
	for depth := 0; depth < 400; depth++ {
		errc := make(chan error, 1)
		go func() { errc <- readAt(depth, id) }()
		if err := <-errc; err != nil {
			t.Fatalf("at depth %d: %v", depth, err)
		}
	}
}

// readAt recurses depth frames, then reads set id and checks its layout.
//
//go:noinline
func readAt(depth, id int) error {
	var pad [16]uintptr // some frame for each level
	if depth > 0 {
		pad[depth%16] = uintptr(depth)
		return readAtNext(depth-1, id, pad[depth%16])
	}
	info, err := readSet(id)
	if err != nil {
		return err
	}
	return info.ours("read", id)
}

//go:noinline
func readAtNext(depth, id int, _ uintptr) error { return readAt(depth, id) }
