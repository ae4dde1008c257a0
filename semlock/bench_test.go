//go:build linux

package semlock_test

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/poolrun/poolrun/semlock"
)

// sembuf is struct sembuf, for the raw baseline.
type sembuf struct {
	num uint16
	op  int16
	flg int16
}

func rawSemop(id int, op *sembuf) error {
	_, _, e := unix.Syscall(unix.SYS_SEMOP, uintptr(id), uintptr(unsafe.Pointer(op)), 1)
	if e != 0 {
		return e
	}
	return nil
}

// rawEntrySemop is rawSemop through the raw syscall entry (no scheduler
// hand-off), which the library uses for ops that cannot block.
func rawEntrySemop(id int, op *sembuf) error {
	_, _, e := unix.RawSyscall(unix.SYS_SEMOP, uintptr(id), uintptr(unsafe.Pointer(op)), 1)
	if e != 0 {
		return e
	}
	return nil
}

// BenchmarkRawSemopPair is the baseline the library is measured against:
// one semop of -1 and one of +1 with SEM_UNDO, one op each, plain syscalls.
func BenchmarkRawSemopPair(b *testing.B) { benchRaw(b, rawSemop) }

// BenchmarkRawEntrySemopPair is the same through the raw syscall entry.
func BenchmarkRawEntrySemopPair(b *testing.B) { benchRaw(b, rawEntrySemop) }

func benchRaw(b *testing.B, semop func(int, *sembuf) error) {
	id, _, e := unix.RawSyscall(unix.SYS_SEMGET, 0, 1, unix.IPC_CREAT|unix.IPC_EXCL|0o600)
	if e != 0 {
		b.Fatal(e)
	}
	defer unix.Syscall6(unix.SYS_SEMCTL, id, 0, unix.IPC_RMID, 0, 0, 0)
	up := sembuf{0, 1, 0x1000}
	down := sembuf{0, -1, 0x1000}
	if err := semop(int(id), &up); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if err := semop(int(id), &down); err != nil {
			b.Fatal(err)
		}
		if err := semop(int(id), &up); err != nil {
			b.Fatal(err)
		}
	}
}

// benchPair measures an uncontended Acquire+Release pair.
func benchPair(b *testing.B, kind semlock.Kind, max int) {
	s, err := semlock.New(kind, max, max)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Remove()
	ctx := context.Background()
	for b.Loop() {
		if err := s.Acquire(ctx); err != nil {
			b.Fatal(err)
		}
		if err := s.Release(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSemaphorePair(b *testing.B) { benchPair(b, semlock.Semaphore, 4) }
func BenchmarkMutexPair(b *testing.B)     { benchPair(b, semlock.Mutex, 1) }

// BenchmarkTryAcquireReleasePair is the non-blocking pair.
func BenchmarkTryAcquireReleasePair(b *testing.B) {
	s, err := semlock.New(semlock.Semaphore, 1, 1)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Remove()
	for b.Loop() {
		if ok, err := s.TryAcquire(); !ok || err != nil {
			b.Fatal(ok, err)
		}
		if err := s.Release(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPingPong hands a unit to a child process and back: ping
// released here, taken there; pong released there, taken here.
func BenchmarkPingPong(b *testing.B) {
	ping, err := semlock.New(semlock.Semaphore, 0, 1, semlock.WithoutUndo())
	if err != nil {
		b.Fatal(err)
	}
	defer ping.Remove()
	pong, err := semlock.New(semlock.Semaphore, 0, 1, semlock.WithoutUndo())
	if err != nil {
		b.Fatal(err)
	}
	defer pong.Remove()
	ph, _ := json.Marshal(pong.Handle())
	h := ping.Handle()
	startHelper(b, "pingpong", &h, string(ph))
	ctx := context.Background()
	round := func() {
		if err := ping.Release(); err != nil {
			b.Fatal(err)
		}
		if err := pong.Acquire(ctx); err != nil {
			b.Fatal(err)
		}
	}
	for range 100 { // warm up the child
		round()
	}
	start := time.Now()
	n := 0
	for b.Loop() {
		round()
		n++
	}
	b.ReportMetric(float64(n)/time.Since(start).Seconds(), "roundtrips/s")
}

// BenchmarkCancelLatency measures from cancel() to the return of an
// Acquire blocked in the kernel, in another goroutine.
func BenchmarkCancelLatency(b *testing.B) {
	s, err := semlock.New(semlock.Semaphore, 0, 1)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Remove()
	var lat []time.Duration
	for b.Loop() {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan time.Time, 1)
		go func() {
			s.Acquire(ctx)
			done <- time.Now()
		}()
		for n, _ := s.Waiters(); n == 0; n, _ = s.Waiters() {
			time.Sleep(20 * time.Microsecond)
		}
		start := time.Now()
		cancel()
		lat = append(lat, (<-done).Sub(start))
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2])/1e3, "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100])/1e3, "p99-µs")
	b.ReportMetric(0, "ns/op")
}
