package etcdcap

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/poolrun/poolrun/etcd/internal/etcdtest"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
	"go.uber.org/zap"
)

// BenchmarkAcquireRelease is acquire+release of a one-slot cap by 1, 4
// and 16 contenders (each a cap of its own, as processes would have),
// beside etcd's own concurrency.Mutex Lock+Unlock in the same run and on
// the same server: p50 and p99 latency of one acquire+release, and slots
// given per second.
func BenchmarkAcquireRelease(b *testing.B) {
	m := etcdtest.Start(b)
	for _, n := range []int{1, 4, 16} {
		b.Run(fmt.Sprintf("cap/contenders=%d", n), func(b *testing.B) {
			t, _ := ParseURL(fmt.Sprintf("etcd://%s/bench%d", m.Client, n))
			var lockers []func() func()
			for i := 0; i < n; i++ {
				c, err := Open(context.Background(), t, 1)
				if err != nil {
					b.Fatal(err)
				}
				defer c.Close()
				lockers = append(lockers, func() func() {
					s, err := c.Acquire(context.Background())
					if err != nil {
						b.Error(err)
						return func() {}
					}
					return func() { s.Release() }
				})
			}
			run(b, lockers)
		})
		b.Run(fmt.Sprintf("mutex/contenders=%d", n), func(b *testing.B) {
			var lockers []func() func()
			for i := 0; i < n; i++ {
				cli, err := clientv3.New(clientv3.Config{Endpoints: []string{m.Client}, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
				if err != nil {
					b.Fatal(err)
				}
				defer cli.Close()
				s, err := concurrency.NewSession(cli, concurrency.WithTTL(10))
				if err != nil {
					b.Fatal(err)
				}
				defer s.Close()
				mu := concurrency.NewMutex(s, fmt.Sprintf("/bench-mutex%d/", n))
				lockers = append(lockers, func() func() {
					if err := mu.Lock(context.Background()); err != nil {
						b.Error(err)
						return func() {}
					}
					return func() { mu.Unlock(context.Background()) }
				})
			}
			run(b, lockers)
		})
	}
}

// run shares b.N acquire+release rounds among the lockers, each in a
// goroutine of its own, after a warm-up, and reports the latencies and
// the rate.
func run(b *testing.B, lockers []func() func()) {
	var mu sync.Mutex
	var lat []time.Duration
	var wg sync.WaitGroup
	next := make(chan struct{}, b.N)
	for i := 0; i < b.N; i++ {
		next <- struct{}{}
	}
	close(next)
	// A few rounds first, not counted: the server's first writes of a key
	// prefix (and the client's first calls) are slower, and would count
	// against whichever of cap and mutex runs first.
	for range 20 {
		lockers[0]()()
	}
	b.ResetTimer()
	start := time.Now()
	for _, lock := range lockers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			for range next {
				t0 := time.Now()
				unlock := lock()
				unlock()
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	el := time.Since(start)
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	if len(lat) > 0 {
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
		b.ReportMetric(float64(len(lat))/el.Seconds(), "slots/s")
	}
}
