package etcdcap

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
)

// keepAlive renews the lease every fifth of its TTL, and declares it lost
// (lose) when Guard (a quarter of the TTL, or the holder's stop time if
// longer) is all that may be left of it: etcd
// counts the TTL from when it handled a renewal, which is after this
// process sent it, so the time of sending plus the TTL granted is the
// earliest the lease can expire. Declared lost that early, the slots'
// jobs can be stopped (TERM, a grace, KILL) before etcd gives the slots
// to others. The client's own KeepAlive counts from the answer instead,
// which is later than etcd's clock by the round trip: not a fence.
func (c *Cap) keepAlive(ctx context.Context, granted time.Time, ttl time.Duration) {
	defer close(c.kaDone)
	guard := c.t.Guard()
	var mu sync.Mutex
	fence := time.AfterFunc(time.Until(granted.Add(ttl-guard)), func() {
		mu.Lock()
		defer mu.Unlock()
		if ctx.Err() == nil {
			c.lose(fmt.Errorf("its lease was not renewed for %v of its %v TTL (etcd unreachable?)", c.t.TTL-guard, c.t.TTL))
		}
	})
	defer fence.Stop()
	every := c.t.TTL / 5
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.lost:
			return
		case <-tick.C:
		}
		sent := time.Now()
		rctx, cancel := context.WithTimeout(ctx, every)
		resp, err := c.cli.KeepAliveOnce(rctx, c.lease)
		cancel()
		switch {
		case errors.Is(err, rpctypes.ErrLeaseNotFound):
			c.lose(fmt.Errorf("etcd says its lease has expired"))
			return
		case err != nil:
			continue // try again at the next tick; the fence stays where it is
		case resp.TTL <= 0:
			c.lose(fmt.Errorf("etcd says its lease has expired"))
			return
		}
		c.renewed.Store(sent.UnixNano())
		mu.Lock()
		if c.Err() == nil {
			fence.Reset(time.Until(sent.Add(time.Duration(resp.TTL)*time.Second - guard)))
		}
		mu.Unlock()
	}
}
