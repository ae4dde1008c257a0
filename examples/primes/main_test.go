package main

import (
	"io"
	"os"
	"strings"
	"testing"

	"github.com/poolrun/poolrun/internal/leakcheck"
	"github.com/poolrun/poolrun/pool"
)

func TestMain(m *testing.M) {
	pool.Dispatch() // the test binary is the workers too
	// Under -race a process sleeps 1 s at exit: not the workers.
	os.Setenv("GORACE", strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
	m.Run()
}

// TestPrimesSurvivesCrash runs the service with the worker of chunk 1
// killing itself: the chunk is retried and the count is right.
func TestPrimesSurvivesCrash(t *testing.T) {
	leakcheck.Check(t)
	n, err := run(io.Discard, 2, 2, "", 200_000, 50_000, 1, false)
	if err != nil || n != 17984 {
		t.Fatalf("primes below 200000: %d, %v (want 17984)", n, err)
	}
}
