// Command pool measures package pool on the benchmark's work, for
// bench/pool.sh: N identity tasks on a small payload with W workers
// (Map, unordered and ordered), the round-trip latency of one task, and
// the time from a worker's SIGKILL to its replacement being ready.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"slices"
	"syscall"
	"time"

	"github.com/poolrun/poolrun/pool"
)

var identity = pool.Define("identity", func(ctx context.Context, in []byte) ([]byte, error) { return in, nil })

var getpid = pool.Define("getpid", func(ctx context.Context, _ []byte) ([]byte, error) {
	return fmt.Appendf(nil, "%d", os.Getpid()), nil
})

func main() {
	pool.Dispatch()
	n := flag.Int("n", 100000, "tasks")
	w := flag.Int("workers", 2, "workers")
	lat := flag.Int("latency", 2000, "round trips for the latency figure")
	kills := flag.Int("kills", 10, "SIGKILLs for the replacement figure")
	flag.Parse()
	if err := run(*n, *w, *lat, *kills); err != nil {
		fmt.Fprintln(os.Stderr, "pool bench:", err)
		os.Exit(1)
	}
}

func run(n, workers, lat, kills int) error {
	ctx := context.Background()
	p, err := pool.New(pool.Workers(workers))
	if err != nil {
		return err
	}
	defer p.Close()
	items := make([][]byte, n)
	for i := range items {
		items[i] = fmt.Appendf(nil, "%064d", i)
	}
	// Warm up.
	for r := range identity.Map(ctx, p, slices.Values(items[:min(n, 1000)]), pool.Unordered()) {
		if r.Err != nil {
			return r.Err
		}
	}
	for _, mode := range []string{"unordered", "ordered"} {
		var opts []pool.MapOption
		if mode == "unordered" {
			opts = append(opts, pool.Unordered())
		}
		t0 := time.Now()
		got := 0
		for r := range identity.Map(ctx, p, slices.Values(items), opts...) {
			if r.Err != nil {
				return r.Err
			}
			if len(r.Value) != 64 {
				return fmt.Errorf("bad result %q", r.Value)
			}
			got++
		}
		dt := time.Since(t0)
		if got != n {
			return fmt.Errorf("%d results, want %d", got, n)
		}
		fmt.Printf("go pool.Map(%s) tasks=%d workers=%d seconds=%.3f tasks/s=%.0f\n", mode, n, workers, dt.Seconds(), float64(n)/dt.Seconds())
	}
	// Futures, one Submit per task, all in flight.
	t0 := time.Now()
	fs := make([]*pool.Future[[]byte], n)
	for i, it := range items {
		fs[i] = identity.Submit(ctx, p, it)
	}
	for _, f := range fs {
		if _, err := f.Get(); err != nil {
			return err
		}
	}
	dt := time.Since(t0)
	fmt.Printf("go pool.Submit tasks=%d workers=%d seconds=%.3f tasks/s=%.0f\n", n, workers, dt.Seconds(), float64(n)/dt.Seconds())

	// Latency: one task at a time.
	ds := make([]time.Duration, lat)
	for i := range ds {
		t := time.Now()
		if _, err := identity.Call(ctx, p, items[0]); err != nil {
			return err
		}
		ds[i] = time.Since(t)
	}
	slices.Sort(ds)
	fmt.Printf("go pool.Call latency round_trips=%d p50_us=%.1f p99_us=%.1f\n", lat, us(ds[lat/2]), us(ds[lat*99/100]))

	// SIGKILL to replacement ready.
	ks := make([]time.Duration, 0, kills)
	for range kills {
		b, err := getpid.Call(ctx, p, nil)
		if err != nil {
			return err
		}
		var pid int
		fmt.Sscan(string(b), &pid)
		before := p.Stats().Restarts
		t := time.Now()
		syscall.Kill(pid, syscall.SIGKILL)
		for {
			s := p.Stats()
			if s.Restarts > before && s.Workers == workers {
				break
			}
			time.Sleep(20 * time.Microsecond)
		}
		ks = append(ks, time.Since(t))
	}
	slices.Sort(ks)
	fmt.Printf("go worker SIGKILL→replacement ready kills=%d p50_ms=%.2f max_ms=%.2f\n", kills, ms(ks[len(ks)/2]), ms(ks[len(ks)-1]))
	return nil
}

func us(d time.Duration) float64 { return float64(d) / 1e3 }
func ms(d time.Duration) float64 { return float64(d) / 1e6 }
