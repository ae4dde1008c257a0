package etcdcap

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/poolrun/poolrun/slots"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// The nested-run protocol of the etcd kind, in a job's environment: EnvCap
// is the cap's URL, EnvHeld "LEASE/ID": the job runs on a slot held under
// lease LEASE (hex), and ID names the job's claim key. A process that
// finds both runs on the job's slot for free while it holds the claim key
// (make's jobserver rule, as for the SysV kinds): the key is created only
// if the holder's process key exists, and only if nobody of the job holds
// it; it is on the claimer's lease, so a claimer that dies gives it back.
const (
	EnvCap  = "POOLRUN_ETCD_CAP"
	EnvHeld = "POOLRUN_ETCD_HELD"
)

// Share names the cap and a claim key for the job's slot.
func (c *Cap) Share() (slots.Share, error) {
	if err := c.usable(); err != nil {
		return nil, err
	}
	id := c.newID()
	return &share{c: c, key: c.t.prefix() + "u/" + id, env: []string{
		EnvCap + "=" + c.t.String(),
		EnvHeld + "=" + strconv.FormatInt(int64(c.lease), 16) + "/" + id,
		// The job's cap is this one, not a SysV one named further up.
		slots.HeldEnv + "=etcd",
	}}, nil
}

type share struct {
	c   *Cap
	key string
	env []string
}

func (s *share) Env() []string { return s.env }

// Close deletes the claim key, left only by a claimer that has not closed
// its cap yet.
func (s *share) Close() error {
	if s.c.Err() != nil || s.c.closed.Load() {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	_, err := s.c.cli.Delete(ctx, s.key)
	return err
}

// FromEnv opens the cap this process inherited from the job it runs in
// (EnvCap, EnvHeld), and claims the job's slot for its first slot. It
// returns slots.ErrNoCap if the environment names no etcd cap.
func FromEnv(ctx context.Context) (*Cap, error) {
	u, ok := os.LookupEnv(EnvCap)
	if !ok || u == "" {
		return nil, slots.ErrNoCap
	}
	t, err := ParseURL(u)
	if err != nil {
		return nil, fmt.Errorf("etcdcap: the inherited cap (%s): %w", EnvCap, err)
	}
	c, err := Open(ctx, t, 0)
	if err != nil {
		return nil, err
	}
	if h := os.Getenv(EnvHeld); h != "" {
		lease, id, ok := strings.Cut(h, "/")
		l, err := strconv.ParseInt(lease, 16, 64)
		if !ok || err != nil || id == "" {
			c.Close()
			return nil, fmt.Errorf("etcdcap: the inherited cap: %s=%q: want LEASE/ID", EnvHeld, h)
		}
		c.unit = &unit{c: c, holder: c.procKey(clientv3.LeaseID(l)), key: t.prefix() + "u/" + id}
	}
	return c, nil
}

// unit is the slot of the job this process runs in.
type unit struct {
	c      *Cap
	holder string // the process key of the job's holder
	key    string // the claim key
	seen   int64  // the revision of the last failed claim: watch from there
}

// tryClaim takes the job's slot if the holder is alive and no process of
// the job runs on it. u may be nil.
func (u *unit) tryClaim(ctx context.Context) (slots.Slot, bool, error) {
	if u == nil {
		return nil, false, nil
	}
	var resp *clientv3.TxnResponse
	err := u.c.retry(ctx, func(ctx context.Context) (err error) {
		resp, err = u.c.cli.Txn(ctx).If(
			clientv3.Compare(clientv3.CreateRevision(u.holder), ">", 0),
			clientv3.Compare(clientv3.CreateRevision(u.key), "=", 0),
		).Then(clientv3.OpPut(u.key, u.c.value, clientv3.WithLease(u.c.lease))).Commit()
		return err
	})
	if err != nil {
		return nil, false, u.c.waitErr(ctx, err)
	}
	u.seen = resp.Header.Revision
	if !resp.Succeeded {
		return nil, false, nil
	}
	return &unitSlot{u: u}, true, nil
}

type unitSlot struct {
	u    *unit
	done bool
}

func (s *unitSlot) Release() error {
	if s.done {
		return errors.New("etcdcap: the job's slot released twice")
	}
	s.done = true
	if s.u.c.Err() != nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	_, err := s.u.c.cli.Delete(ctx, s.u.key)
	return err
}
