//go:build linux

package semlock

import (
	"context"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// rawPair is the baseline: one semop of -1 and one of +1, SEM_UNDO, one
// op each, straight syscalls.
func BenchmarkRawSemopPair(b *testing.B) {
	id, err := semget(0, 1, ipcCreat|ipcExcl|0o600)
	if err != nil {
		b.Fatal(err)
	}
	defer semRemove(id)
	up := [1]sembuf{{0, 1, flagUndo}}
	if err := rawSemop(id, up[:]); err != nil {
		b.Fatal(err)
	}
	down := [1]sembuf{{0, -1, flagUndo}}
	b.ResetTimer()
	for b.Loop() {
		if err := rawSemop(id, down[:]); err != nil {
			b.Fatal(err)
		}
		if err := rawSemop(id, up[:]); err != nil {
			b.Fatal(err)
		}
	}
}

func rawSemop(id int, ops []sembuf) error {
	_, _, e := unix.Syscall(unix.SYS_SEMOP, uintptr(id), uintptr(unsafe.Pointer(&ops[0])), uintptr(len(ops)))
	if e != 0 {
		return e
	}
	return nil
}

func benchPair(b *testing.B, kind Kind, max int) {
	s, err := New(kind, max, max)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Remove()
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		if err := s.Acquire(ctx); err != nil {
			b.Fatal(err)
		}
		if err := s.Release(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSemaphorePair(b *testing.B) { benchPair(b, Semaphore, 4) }
func BenchmarkMutexPair(b *testing.B)     { benchPair(b, Mutex, 1) }
