package pool_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/poolrun/poolrun/internal/leakcheck"
	"github.com/poolrun/poolrun/pool"
)

// BenchmarkMap: identity tasks on 64-byte payloads through 2 workers.
func BenchmarkMap(b *testing.B) {
	for _, mode := range []string{"ordered", "unordered"} {
		b.Run(mode, func(b *testing.B) {
			leakcheck.Check(b)
			p, err := pool.New(pool.Workers(2))
			if err != nil {
				b.Fatal(err)
			}
			defer p.Close()
			items := make([][]byte, b.N)
			for i := range items {
				items[i] = fmt.Appendf(nil, "%064d", i)
			}
			var opts []pool.MapOption
			if mode == "unordered" {
				opts = append(opts, pool.Unordered())
			}
			b.ResetTimer()
			for r := range echo.Map(context.Background(), p, slices.Values(items), opts...) {
				if r.Err != nil {
					b.Fatal(r.Err)
				}
			}
		})
	}
}

// BenchmarkCall: one task's round trip.
func BenchmarkCall(b *testing.B) {
	leakcheck.Check(b)
	p, err := pool.New(pool.Workers(2))
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	in := make([]byte, 64)
	ctx := context.Background()
	b.ResetTimer()
	for range b.N {
		if _, err := echo.Call(ctx, p, in); err != nil {
			b.Fatal(err)
		}
	}
}
