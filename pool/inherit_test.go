package pool_test

import (
	"context"
	"strings"
	"testing"

	"github.com/poolrun/poolrun/internal/leakcheck"
	"github.com/poolrun/poolrun/pool"
	"github.com/poolrun/poolrun/slots"
)

// asJob makes this test process a job of c on a slot it holds, as a
// poolrun job is: its environment names c and the slot (c.Share()).
func asJob(t *testing.T, c slots.Cap) {
	t.Helper()
	s, err := c.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Release() })
	share, err := c.Share()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { share.Close() })
	for _, kv := range share.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
}

// A pool started inside a poolrun job shares the job's cap: on a cap of
// one slot that the job holds, its three workers run one task at a time
// (on the job's own slot), and every task runs; with Limit(3) too, both
// bind.
func TestPoolSharesInheritedCap(t *testing.T) {
	for name, opts := range map[string][]pool.Option{
		"workers": {pool.Workers(3)},
		"limit":   {pool.Workers(3), pool.Limit(3)},
	} {
		t.Run(name, func(t *testing.T) {
			leakcheck.Check(t)
			c, err := slots.New(1)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.Close() }) // after asJob's cleanups
			asJob(t, c)
			p := newPool(t, opts...)
			ctx := testCtx(t)
			var fs []*pool.Future[[2]int64]
			for range 6 {
				fs = append(fs, window.Submit(ctx, p, 20))
			}
			checkNoOverlap(t, fs)
			p.Close()
		})
	}
}
