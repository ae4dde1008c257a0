package pool_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/poolrun/poolrun/internal/leakcheck"
	"github.com/poolrun/poolrun/pool"
)

// bigOut returns n zero bytes (never touched: the pages stay unmapped).
var bigOut = pool.Define("big-out", func(ctx context.Context, n int) ([]byte, error) {
	return make([]byte, n), nil
})

// TestTooLarge: an input or an output of more than a frame holds fails
// its own task with ErrTooLarge, at once, rather than breaking the
// stream to the worker (which stopped it and failed the task it ran).
func TestTooLarge(t *testing.T) {
	leakcheck.Check(t)
	p := newPool(t, pool.Workers(1))
	ctx := testCtx(t)
	running := sleep.Submit(ctx, p, 300) // another task, in the worker meanwhile
	huge := make([]byte, 1<<30)          // never touched: not resident
	if _, err := p.Submit(ctx, "echo", huge).Get(); !errors.Is(err, pool.ErrTooLarge) || !strings.Contains(err.Error(), "input of 1073741824 bytes") {
		t.Errorf("1 GiB input: %v", err)
	}
	if _, err := bigOut.Call(ctx, p, 1<<30); !errors.Is(err, pool.ErrTooLarge) || !strings.Contains(err.Error(), "output of 1073741824 bytes") {
		t.Errorf("1 GiB output: %v", err)
	}
	if _, err := running.Get(); err != nil {
		t.Errorf("the other task: %v", err)
	}
	if b, err := bigOut.Call(ctx, p, 1<<20); err != nil || len(b) != 1<<20 {
		t.Errorf("1 MiB output: %d bytes, %v", len(b), err)
	}
	if s := p.Stats(); s.Restarts != 0 {
		t.Errorf("stats: %+v", s)
	}
	p.Close()
}
