// Command primes is a small service that fans CPU-heavy work out to a
// pool of worker processes: it counts the primes below -upto in chunks,
// one task per chunk. With -crash N the worker running chunk N kills
// itself (SIGKILL) the first time: that chunk alone fails, the pool
// replaces the worker, and the service retries the chunk.
//
//	go run ./examples/primes -workers 2 -limit 2 -crash 3
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/poolrun/poolrun/pool"
)

// Chunk is one task's input: count the primes in [Lo, Hi).
type Chunk struct {
	Index  int
	Lo, Hi int
	Crash  bool // kill the worker instead (to show what the pool does)
}

// countPrimes runs in a worker process.
var countPrimes = pool.Define("count-primes", func(ctx context.Context, c Chunk) (int, error) {
	if c.Crash {
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
	}
	n := 0
	for i := max(c.Lo, 2); i < c.Hi; i++ {
		if i%1024 == 0 && ctx.Err() != nil {
			return 0, ctx.Err()
		}
		if isPrime(i) {
			n++
		}
	}
	return n, nil
})

func isPrime(n int) bool {
	if n < 4 {
		return n >= 2
	}
	if n%2 == 0 {
		return false
	}
	for d := 3; d*d <= n; d += 2 {
		if n%d == 0 {
			return false
		}
	}
	return true
}

func main() {
	pool.Dispatch() // first: in a worker process this runs the worker
	workers := flag.Int("workers", 2, "worker processes")
	limit := flag.Int("limit", 0, "run at most this many chunks at once (0: no limit)")
	sem := flag.String("sem", "", "share the limit machine-wide under this name (with -limit)")
	upto := flag.Int("upto", 10_000_000, "count the primes below this")
	chunk := flag.Int("chunk", 250_000, "numbers per task")
	crash := flag.Int("crash", -1, "chunk whose worker kills itself on the first try")
	verbose := flag.Bool("v", false, "log worker starts and deaths")
	flag.Parse()
	if _, err := run(os.Stdout, *workers, *limit, *sem, *upto, *chunk, *crash, *verbose); err != nil {
		fmt.Fprintln(os.Stderr, "primes:", err)
		os.Exit(1)
	}
}

// run counts the primes below upto and returns how many there are.
func run(out io.Writer, workers, limit int, sem string, upto, chunk, crash int, verbose bool) (int, error) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	level := hclog.Warn
	if verbose {
		level = hclog.Debug
	}
	opts := []pool.Option{pool.Workers(workers), pool.Logger(hclog.New(&hclog.LoggerOptions{Name: "primes", Level: level}))}
	switch {
	case sem != "" && limit > 0:
		opts = append(opts, pool.SharedLimit(sem, limit))
	case limit > 0:
		opts = append(opts, pool.Limit(limit))
	}
	p, err := pool.New(opts...)
	if err != nil {
		return 0, err
	}
	defer p.Close()

	start := time.Now()
	var chunks []Chunk
	for i, lo := 0, 0; lo < upto; i, lo = i+1, lo+chunk {
		chunks = append(chunks, Chunk{Index: i, Lo: lo, Hi: min(lo+chunk, upto), Crash: i == crash})
	}
	total := 0
	for len(chunks) > 0 {
		var retry []Chunk
		for r := range countPrimes.Map(ctx, p, slices.Values(chunks), pool.Unordered()) {
			c := chunks[r.Index]
			switch {
			case errors.Is(r.Err, pool.ErrWorkerDied) && c.Crash:
				fmt.Fprintf(out, "chunk %d [%d, %d): %v: will retry\n", c.Index, c.Lo, c.Hi, r.Err)
				c.Crash = false
				retry = append(retry, c)
			case r.Err != nil:
				return 0, r.Err
			default:
				fmt.Fprintf(out, "chunk %d [%d, %d): %d primes\n", c.Index, c.Lo, c.Hi, r.Value)
				total += r.Value
			}
		}
		chunks = retry
	}
	s := p.Stats()
	fmt.Fprintf(out, "%d primes below %d in %v with %d workers (tasks completed %d, failed %d, worker restarts %d)\n",
		total, upto, time.Since(start).Round(time.Millisecond), workers, s.Completed, s.Failed, s.Restarts)
	return total, nil
}
