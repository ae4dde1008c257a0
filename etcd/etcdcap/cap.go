package etcdcap

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/poolrun/poolrun/slots"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// ErrLost is what the calls of a cap return once its lease is lost (see
// Cap.Lost): the process holds none of its slots any more.
var ErrLost = errors.New("etcdcap: the cap's lease is lost")

// opTimeout bounds a release, a revoke and the other calls made without
// the caller's context, so that an unreachable etcd cannot hang them: the
// lease expiring does the same work later.
const opTimeout = 5 * time.Second

// Cap is an etcd cap (see the package comment). It is a slots.Cap; Lost
// and Err tell the loss of its lease.
type Cap struct {
	t     Target
	cli   *clientv3.Client
	lease clientv3.LeaseID
	size  int
	value string // of this process's keys: "SIZE HOST PID"
	seq   atomic.Uint64
	unit  *unit // the slot of the job this process runs in (FromEnv), or nil

	lost     chan struct{}
	lostOnce sync.Once
	lostErr  error
	stopKA   context.CancelFunc
	kaDone   chan struct{}
	closed   atomic.Bool
	// renewed is when the last renewal etcd granted was sent (UnixNano):
	// the lease cannot expire before renewed + TTL.
	renewed atomic.Int64
}

var _ slots.Cap = (*Cap)(nil)

// Open opens the cap of t, shared by every process that opens it on that
// cluster, making it with n slots if nobody uses it now. A cap in use
// keeps its size: compare Size with n to tell the user. n 0 opens only a
// cap in use. Open gives up after OpenTimeout (or when ctx is done) if
// etcd does not answer.
//
// The cap exists while it has users: its keys are on its users' leases,
// and it is gone, with nothing left in etcd, when the last one has left.
func Open(ctx context.Context, t Target, n int) (*Cap, error) {
	if n < 0 || n > 1<<20 {
		return nil, fmt.Errorf("etcdcap: %s of %d slots: want 1 to %d", t, n, 1<<20)
	}
	if t.TTL == 0 {
		t.TTL = DefaultTTL
	}
	if t.TTL < 2*time.Second || t.TTL%time.Second != 0 {
		return nil, fmt.Errorf("etcdcap: %s: a TTL of %v: want whole seconds, at least 2s", t, t.TTL)
	}
	if err := checkName(t.Name); err != nil {
		return nil, fmt.Errorf("etcdcap: %w", err)
	}
	if t.Stop < 0 {
		return nil, fmt.Errorf("etcdcap: %s: a stop time of %v: want 0 or more", t, t.Stop)
	}
	if g := t.Guard(); g > maxGuard(t.TTL) {
		need := (t.Stop + stopMargin) * 5 / 3
		need = (need + time.Second - 1).Truncate(time.Second)
		return nil, fmt.Errorf("etcdcap: %s: stopping the jobs takes up to %v (the grace), too long for a lease TTL of %v: a lost lease must leave that much time before etcd can give the slots to others: use ?ttl=%v or more, or a shorter grace", t, t.Stop, t.TTL, need)
	}
	ctx, cancel := context.WithTimeout(ctx, OpenTimeout)
	defer cancel()
	cli, ctx, done, err := dial(ctx, t)
	if err != nil {
		return nil, err
	}
	defer done()
	c := &Cap{t: t, cli: cli, lost: make(chan struct{}), kaDone: make(chan struct{})}
	fail := func(what string, err error) (*Cap, error) {
		cli.Close()
		var te *tlsError
		if errors.As(context.Cause(ctx), &te) {
			return nil, explain(t, what, te)
		}
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil {
			return nil, unanswered(t, what, err)
		}
		return nil, explain(t, what, err)
	}
	// Retried through a leader's death (a lease granted by a try whose
	// answer was lost has no key and expires by itself).
	var granted time.Time
	var g *clientv3.LeaseGrantResponse
	err = c.retryEach(ctx, openAttempt, func(ctx context.Context) (err error) {
		granted = time.Now()
		g, err = cli.Grant(ctx, int64(t.TTL/time.Second))
		return err
	})
	if err != nil {
		return fail("granting a lease", err)
	}
	c.lease = g.ID
	c.renewed.Store(granted.UnixNano())
	host, _ := os.Hostname()
	pid := strconv.Itoa(os.Getpid())
	// The process key names this user for `poolrun sem ls` and lets a
	// nested run check that the job's holder is alive; with it, the oldest
	// slot key's size, if the cap is in use.
	var resp *clientv3.TxnResponse
	err = c.retryEach(ctx, openAttempt, func(ctx context.Context) (err error) {
		resp, err = cli.Txn(ctx).Then(
			clientv3.OpPut(c.procKey(c.lease), host+" "+pid, clientv3.WithLease(c.lease)),
			clientv3.OpGet(c.slotPrefix(), append(clientv3.WithFirstCreate(), clientv3.WithPrefix())...),
		).Commit()
		return err
	})
	if err != nil {
		c.revoke()
		return fail("registering", err)
	}
	c.size = n
	if kvs := resp.Responses[1].GetResponseRange().Kvs; len(kvs) > 0 {
		c.size = sizeOf(kvs[0].Value, n)
	}
	if c.size < 1 {
		c.revoke()
		cli.Close()
		return nil, fmt.Errorf("etcdcap: %s: no such cap in use (nobody holds or waits for it)", t)
	}
	c.value = strconv.Itoa(c.size) + " " + host + " " + pid
	kctx, stop := context.WithCancel(context.Background())
	c.stopKA = stop
	go c.keepAlive(kctx, granted, time.Duration(g.TTL)*time.Second)
	return c, nil
}

// Target is where the cap is.
func (c *Cap) Target() Target { return c.t }

// Size is how many slots the cap has, for all its users together.
func (c *Cap) Size() int { return c.size }

// Lost is closed when this process's lease is lost or may be: it could
// not renew it for three quarters of its TTL, etcd says it has expired,
// or a key of a slot it held is gone. The process holds none of its slots
// any more: whatever runs on them must stop. Err says why.
func (c *Cap) Lost() <-chan struct{} { return c.lost }

// Err is why Lost was closed, or nil.
func (c *Cap) Err() error {
	select {
	case <-c.lost:
		return c.lostErr
	default:
		return nil
	}
}

func (c *Cap) lose(err error) {
	c.lostOnce.Do(func() {
		c.lostErr = fmt.Errorf("%w: %v", ErrLost, err)
		close(c.lost)
	})
}

// usable is the error of a call made on a lost or closed cap.
func (c *Cap) usable() error {
	if c.closed.Load() {
		return fmt.Errorf("etcdcap: %s is closed", c.t)
	}
	return c.Err()
}

func (c *Cap) slotPrefix() string { return c.t.prefix() + "s/" }

func (c *Cap) procKey(l clientv3.LeaseID) string {
	return c.t.prefix() + "p/" + strconv.FormatInt(int64(l), 16)
}

// newID is a name unique in the cluster: this lease and a sequence number.
func (c *Cap) newID() string {
	return strconv.FormatInt(int64(c.lease), 16) + "." + strconv.FormatUint(c.seq.Add(1), 10)
}

// sizeOf is the size in a slot key's value, or def if it has none.
func sizeOf(v []byte, def int) int {
	f, _, _ := strings.Cut(string(v), " ")
	if n, err := strconv.Atoi(f); err == nil && n > 0 {
		return n
	}
	return def
}

// Close gives this process's slots back and lets go of the cap: the lease
// is revoked at once, removing every key this process made.
func (c *Cap) Close() error {
	if c.closed.Swap(true) {
		return nil
	}
	c.stopKA()
	<-c.kaDone
	err := c.revoke()
	return errors.Join(err, c.cli.Close())
}

func (c *Cap) revoke() error {
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	if _, err := c.cli.Revoke(ctx, c.lease); err != nil && c.Err() == nil {
		return fmt.Errorf("etcdcap: %s: revoking the lease (its keys go when it expires): %w", c.t, err)
	}
	return nil
}
