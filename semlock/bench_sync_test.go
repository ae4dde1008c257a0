package semlock_test

import (
	"context"
	"testing"
	"time"

	"github.com/poolrun/poolrun/semlock"
)

// BenchmarkBarrierRounds5Procs: rounds of a barrier of 5 parties, this
// process and 4 helper processes, each Waiting round after round.
func BenchmarkBarrierRounds5Procs(b *testing.B) {
	bar, err := semlock.NewBarrier(5, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer bar.Remove()
	h := bar.Handle()
	for range 4 {
		c := startHelper(b, "barrier-party", &h, marshal(partyArg{Scenario: "forever"}))
		c.expect("ready")
	}
	ctx := context.Background()
	for range 100 { // warm up
		if _, err := bar.Wait(ctx); err != nil {
			b.Fatal(err)
		}
	}
	start := time.Now()
	n := 0
	for b.Loop() {
		if _, err := bar.Wait(ctx); err != nil {
			b.Fatal(err)
		}
		n++
	}
	b.ReportMetric(float64(n)/time.Since(start).Seconds(), "rounds/s")
}

// BenchmarkEventSetWaitClear: an uncontended Set, Wait, Clear.
func BenchmarkEventSetWaitClear(b *testing.B) {
	ev, err := semlock.NewEvent()
	if err != nil {
		b.Fatal(err)
	}
	defer ev.Remove()
	ctx := context.Background()
	for b.Loop() {
		if err := ev.Set(); err != nil {
			b.Fatal(err)
		}
		if err := ev.Wait(ctx); err != nil {
			b.Fatal(err)
		}
		if err := ev.Clear(); err != nil {
			b.Fatal(err)
		}
	}
}
