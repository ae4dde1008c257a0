package etcdcap

import (
	"context"
	"fmt"
	"time"

	"github.com/poolrun/poolrun/slots"
	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// slot is one held slot: its key.
type slot struct {
	c    *Cap
	key  string
	done bool
}

// Release deletes the slot's key: the first waiter, watching for that,
// takes it.
func (s *slot) Release() error {
	if s.done {
		return fmt.Errorf("etcdcap: a slot of %s released twice", s.c.t)
	}
	s.done = true
	if s.c.Err() != nil {
		return nil // the lease is gone, and its keys with it
	}
	// Tried for a TTL: past that the lease may be gone, and the key with it.
	ctx, cancel := context.WithTimeout(context.Background(), s.c.t.TTL)
	defer cancel()
	if err := s.c.retry(ctx, func(ctx context.Context) error { _, err := s.c.cli.Delete(ctx, s.key); return err }); err != nil && s.c.Err() == nil {
		return fmt.Errorf("etcdcap: releasing a slot of %s (it comes back when the lease ends): %w", s.c.t, err)
	}
	return nil
}

// enqueue makes a slot key for this process and lists the slot keys in
// create order, in one transaction: an uncontended slot costs one round
// trip, as etcd's own Mutex.Lock does.
func (c *Cap) enqueue(ctx context.Context, key string) (kvs []*mvccpb.KeyValue, rev int64, err error) {
	// Retried: a try that timed out may have made the key all the same,
	// so an existing key (only ours can have its name) is no error.
	// Only the first Size keys: enough to tell a holder (the common,
	// uncontended case) without reading every waiter; a waiter lists them
	// all after (found).
	list := clientv3.OpGet(c.slotPrefix(), clientv3.WithPrefix(), clientv3.WithSort(clientv3.SortByCreateRevision, clientv3.SortAscend), clientv3.WithLimit(int64(c.size)))
	err = c.retry(ctx, func(ctx context.Context) error {
		resp, err := c.cli.Txn(ctx).If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).Then(
			clientv3.OpPut(key, c.value, clientv3.WithLease(c.lease)), list,
		).Else(list).Commit()
		if err != nil {
			return err
		}
		r := resp.Responses[len(resp.Responses)-1].GetResponseRange()
		kvs, rev = r.Kvs, resp.Header.Revision
		return nil
	})
	if err != nil || found(kvs, key) {
		return kvs, rev, err
	}
	return c.list(ctx)
}

// found reports whether key is among kvs.
func found(kvs []*mvccpb.KeyValue, key string) bool {
	for _, kv := range kvs {
		if string(kv.Key) == key {
			return true
		}
	}
	return false
}

func (c *Cap) list(ctx context.Context) ([]*mvccpb.KeyValue, int64, error) {
	var resp *clientv3.GetResponse
	err := c.retry(ctx, func(ctx context.Context) (err error) {
		resp, err = c.cli.Get(ctx, c.slotPrefix(), clientv3.WithPrefix(), clientv3.WithSort(clientv3.SortByCreateRevision, clientv3.SortAscend))
		return err
	})
	if err != nil {
		return nil, 0, err
	}
	return resp.Kvs, resp.Header.Revision, nil
}

// rank is key's place among kvs (-1: not there) and the cap's size, the
// oldest key's: every process adopts the size of the cap in use, so the
// keys agree on it, and if two makers raced the first one's is the size.
func rank(kvs []*mvccpb.KeyValue, key string, def int) (int, int) {
	size := def
	if len(kvs) > 0 {
		size = sizeOf(kvs[0].Value, def)
	}
	for i, kv := range kvs {
		if string(kv.Key) == key {
			return i, size
		}
	}
	return -1, size
}

// dropKey deletes a key this process gave up waiting with, after ctx has
// ended: with a context of its own.
func (c *Cap) dropKey(key string) {
	ctx, cancel := context.WithTimeout(context.Background(), c.t.TTL)
	defer cancel()
	c.retry(ctx, func(ctx context.Context) error { _, err := c.cli.Delete(ctx, key); return err }) // on failure the lease removes it
}

// TryAcquire takes a slot if one is free now: its key is among the first
// Size; else the key is deleted at once.
func (c *Cap) TryAcquire() (slots.Slot, bool, error) {
	if err := c.usable(); err != nil {
		return nil, false, err
	}
	if s, ok, err := c.unit.tryClaim(context.Background()); ok || err != nil {
		return s, ok, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	key := c.slotPrefix() + c.newID()
	kvs, _, err := c.enqueue(ctx, key)
	if err != nil {
		c.dropKey(key) // a try that failed may have made it
		return nil, false, fmt.Errorf("etcdcap: %s: %w", c.t, err)
	}
	if i, size := rank(kvs, key, c.size); i >= 0 && i < size {
		return &slot{c: c, key: key}, true, nil
	}
	c.dropKey(key)
	return nil, false, nil
}

// Acquire takes a slot, waiting in arrival order until one is free. A
// process running in a job of this cap (FromEnv) takes its job's slot
// first, when no other process of the job runs on it.
func (c *Cap) Acquire(ctx context.Context) (slots.Slot, error) {
	if err := c.usable(); err != nil {
		return nil, err
	}
	unitRev := int64(0)
	if c.unit != nil {
		s, ok, err := c.unit.tryClaim(ctx)
		if ok || err != nil {
			return s, err
		}
		unitRev = c.unit.seen
	}
	key := c.slotPrefix() + c.newID()
	kvs, rev, err := c.enqueue(ctx, key)
	if err != nil {
		// The key may exist: made by a try that timed out, or listed
		// after (a waiter's) when ctx ended.
		c.dropKey(key)
		return nil, c.waitErr(ctx, err)
	}
	var myRev int64 // the key's create revision: promote checks it is still that key
	for _, kv := range kvs {
		if string(kv.Key) == key {
			myRev = kv.CreateRevision
		}
	}
	waited := false
	for {
		i, size := rank(kvs, key, c.size)
		if i < 0 {
			c.lose(fmt.Errorf("the key of a slot it waited for is gone"))
			return nil, c.Err()
		}
		if i < size {
			if waited {
				if err := c.promote(ctx, key, myRev); err != nil {
					c.dropKey(key)
					return nil, c.waitErr(ctx, err)
				}
			}
			return &slot{c: c, key: key}, nil
		}
		waited = true
		s, err := c.wait(ctx, kvs, i, size, rev, unitRev)
		if s != nil || err != nil {
			c.dropKey(key)
			return s, c.waitErr(ctx, err)
		}
		if kvs, rev, err = c.list(ctx); err != nil {
			c.dropKey(key)
			return nil, c.waitErr(ctx, err)
		}
	}
}

// waitErr is the error of an Acquire that ended with err: ctx's (wrapped,
// for errors.Is) if ctx is done, the loss of the lease if it was lost.
func (c *Cap) waitErr(ctx context.Context, err error) error {
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return fmt.Errorf("etcdcap: waiting for a slot of %s: %w", c.t, ctx.Err())
	case c.Err() != nil:
		return c.Err()
	}
	return fmt.Errorf("etcdcap: %s: %w", c.t, err)
}

// promote rewrites a key that has become a holder: the waiter after it,
// watching it, learns it is now the first waiter. The write succeeds only
// if the key is still the one made (not gone with an expired lease).
func (c *Cap) promote(ctx context.Context, key string, created int64) error {
	var resp *clientv3.TxnResponse
	err := c.retry(ctx, func(ctx context.Context) (err error) {
		resp, err = c.cli.Txn(ctx).If(clientv3.Compare(clientv3.CreateRevision(key), "=", created)).
			Then(clientv3.OpPut(key, c.value, clientv3.WithLease(c.lease))).Commit()
		return err
	})
	if err != nil {
		return err
	}
	if !resp.Succeeded {
		c.lose(fmt.Errorf("the key of a slot it was given is gone"))
		return c.Err()
	}
	return nil
}

// wait waits until what the waiter at place i (of size) must see
// happens: the first waiter, a deletion under the prefix (a slot given
// back); any other, a change of the key just before it (that waiter gave
// up or became a holder). It also ends on ctx, on the loss of the lease,
// and after a TTL with nothing seen (a bound on any wake-up missed). A
// process in a job also watches its job's slot, and returns it if it
// claimed it.
func (c *Cap) wait(ctx context.Context, kvs []*mvccpb.KeyValue, i, size int, rev, unitRev int64) (slots.Slot, error) {
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer cancel()
	// The watch starts at etcd's current revision, not at rev+1: etcd
	// serves a watch that starts in the past from a loop that runs every
	// 100 ms, which would be the hand-over time of a contended slot. If
	// the keys changed between rev and the watch's start, they are looked
	// at again: the watch is kept if nothing this waiter must see did.
	var wch clientv3.WatchChan
	if i == size {
		wch = c.cli.Watch(wctx, c.slotPrefix(), clientv3.WithPrefix(), clientv3.WithFilterPut(), clientv3.WithCreatedNotify())
	} else {
		wch = c.cli.Watch(wctx, string(kvs[i-1].Key), clientv3.WithCreatedNotify())
	}
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-c.lost:
		return nil, c.Err()
	case wr, ok := <-wch:
		if !ok || !wr.Created || wr.Err() != nil {
			return nil, nil
		}
		if wr.Header.Revision != rev {
			now, _, err := c.list(ctx)
			if err != nil {
				return nil, err
			}
			if !sameWait(kvs, now, i, size) {
				return nil, nil
			}
		}
	}
	var uch clientv3.WatchChan
	if c.unit != nil {
		uch = c.cli.Watch(wctx, c.unit.key, clientv3.WithRev(unitRev+1), clientv3.WithFilterPut())
	}
	t := time.NewTimer(c.t.TTL)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-c.lost:
			return nil, c.Err()
		case <-t.C:
			return nil, nil
		case wr, ok := <-wch:
			if !ok || wr.Canceled || wr.Err() != nil || len(wr.Events) > 0 {
				return nil, nil // look again (a failed watch: a new one)
			}
		case wr, ok := <-uch:
			if !ok || wr.Canceled || wr.Err() != nil {
				uch = nil
				continue
			}
			if len(wr.Events) == 0 {
				continue
			}
			s, ok, err := c.unit.tryClaim(ctx)
			if ok || err != nil {
				return s, err
			}
			unitRev = c.unit.seen
			uch = c.cli.Watch(wctx, c.unit.key, clientv3.WithRev(unitRev+1), clientv3.WithFilterPut())
		}
	}
}

// sameWait reports whether the waiter at place i of before is still at i
// in now, behind the same, unchanged key: nothing it must see happened.
// Keys come only after it, so the same place means no deletion before it.
func sameWait(before, now []*mvccpb.KeyValue, i, size int) bool {
	if len(now) <= i || string(now[i].Key) != string(before[i].Key) || sizeOf(now[0].Value, size) != size {
		return false
	}
	return i == size || string(now[i-1].Key) == string(before[i-1].Key) && now[i-1].ModRevision == before[i-1].ModRevision
}
