package spawn_test

import (
	"context"
	"os"
	"os/exec"
	"slices"
	"testing"
	"time"

	"github.com/poolrun/poolrun/internal/leakcheck"
	"github.com/poolrun/poolrun/semlock"
	"github.com/poolrun/poolrun/spawn"
)

// BenchmarkWorkerAttached: start a re-exec'd worker that reattaches one
// set from its environment, and wait for it: spawn's whole path (fork
// thread, handshake, tracker registration, rebuild.FromEnv).
func BenchmarkWorkerAttached(b *testing.B) {
	leakcheck.Check(b)
	s, err := spawn.NewTracked(semlock.Semaphore, 1, 1)
	if err != nil {
		b.Fatal(err)
	}
	defer spawn.RemoveTracked(s)
	locks := map[string]*semlock.SemLock{"slots": s}
	for b.Loop() {
		c := spawn.Worker(context.Background(), "attach")
		c.Locks = locks
		if err := c.Run(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkExecBare: the same binary started with os/exec and exiting at
// once: the floor BenchmarkWorkerAttached is compared with.
func BenchmarkExecBare(b *testing.B) {
	env := append(os.Environ(), bareEnv+"=1")
	for b.Loop() {
		c := exec.Command(os.Args[0])
		c.Env = env
		if err := c.Run(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCommandTrue and BenchmarkExecTrue: spawn.Command against
// os/exec for a tiny program.
func BenchmarkCommandTrue(b *testing.B) {
	for b.Loop() {
		if err := spawn.Command(context.Background(), "/bin/true").Run(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkExecTrue(b *testing.B) {
	for b.Loop() {
		if err := exec.Command("/bin/true").Run(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWorkerVsBare measures spawn-to-attached latency: from the
// start of a re-exec'd worker with one set in its environment until it has
// reattached the set (the first byte it writes arrives), against a bare
// os/exec fork/exec of the same binary until its first byte (written first
// thing in TestMain). It also reports when the worker's Start returned
// (after the child's handshake) and the whole runs until exit. The two
// alternate in one loop, so the shared, noisy box loads both alike; it
// reports medians and the ratio attached/bare.
func BenchmarkWorkerVsBare(b *testing.B) {
	leakcheck.Check(b)
	s, err := spawn.NewTracked(semlock.Semaphore, 1, 1)
	if err != nil {
		b.Fatal(err)
	}
	defer spawn.RemoveTracked(s)
	locks := map[string]*semlock.SemLock{"slots": s}
	env := append(os.Environ(), bareEnv+"=1")
	var bare, worker, started, bareRun, workerRun []time.Duration
	for b.Loop() {
		r, w, err := os.Pipe()
		if err != nil {
			b.Fatal(err)
		}
		arrived := make(chan time.Time, 1)
		go firstByte(b, r, arrived)
		t0 := time.Now()
		c := exec.Command(os.Args[0])
		c.Env, c.Stdout = env, w
		if err := c.Start(); err != nil {
			b.Fatal(err)
		}
		bare = append(bare, (<-arrived).Sub(t0))
		if err := c.Wait(); err != nil {
			b.Fatal(err)
		}
		bareRun = append(bareRun, time.Since(t0))

		go firstByte(b, r, arrived)
		t0 = time.Now()
		wk := spawn.Worker(context.Background(), "attach")
		wk.Locks, wk.Stdout = locks, w
		if err := wk.Start(); err != nil {
			b.Fatal(err)
		}
		started = append(started, time.Since(t0))
		worker = append(worker, (<-arrived).Sub(t0))
		if err := wk.Wait(); err != nil {
			b.Fatal(err)
		}
		workerRun = append(workerRun, time.Since(t0))
		r.Close()
		w.Close()
	}
	mb, mw := median(bare), median(worker)
	b.ReportMetric(float64(mb.Microseconds()), "bare-µs")
	b.ReportMetric(float64(mw.Microseconds()), "attached-µs")
	b.ReportMetric(float64(mw)/float64(mb), "ratio")
	b.ReportMetric(float64(median(started).Microseconds()), "start-returned-µs")
	b.ReportMetric(float64(median(bareRun).Microseconds()), "bare-run-µs")
	b.ReportMetric(float64(median(workerRun).Microseconds()), "worker-run-µs")
}

func firstByte(b *testing.B, r *os.File, arrived chan<- time.Time) {
	var buf [1]byte
	if _, err := r.Read(buf[:]); err != nil {
		b.Error(err)
	}
	arrived <- time.Now()
}

func median(ds []time.Duration) time.Duration {
	slices.Sort(ds)
	return ds[len(ds)/2]
}
