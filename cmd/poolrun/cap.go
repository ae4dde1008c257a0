package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/poolrun/poolrun/rebuild"
	"github.com/poolrun/poolrun/semlock"
	"github.com/poolrun/poolrun/spawn"
)

// capName is the cap's name in POOLRUN_SEMLOCKS, where jobs (and poolruns
// nested in them) find it.
const capName = "poolrun.cap"

// heldEnv marks, in a job's environment, that the job runs on one unit of
// the cap: "ID.TOKEN" of the set. A poolrun started in that job runs its
// first job on that unit instead of taking another one (make's
// jobserver rule), so nested runs cannot deadlock: each always has one.
const heldEnv = "POOLRUN_CAP_HELD"

// heldName is, in a job's POOLRUN_SEMLOCKS, a private mutex of the job's
// slot: whoever takes it (without waiting) may run on the job's unit of
// the cap. It makes the job's unit claimable once: two poolruns (or sem
// runs) started at once in one job do not both run on it; the second
// takes units of the cap like any other run. The mutex carries undo: a
// killed claimant gives it back.
const heldName = "poolrun.held"

// jobCap is the batch's concurrency cap: a SysV semaphore, private to
// this run (and its nested runs), named and machine-wide (--sem), or
// inherited from the parent poolrun.
type jobCap struct {
	sem     *semlock.SemLock
	private bool // created by this run: removed at the end
	limit   int  // jobs this run starts at once

	// The inherited unit: free when no job of ours runs on it. wake
	// cancels a dispatcher wait for a unit when it frees up.
	mu        sync.Mutex
	inherited bool // this run has one
	inhFree   bool
	wake      context.CancelFunc
	claim     *semlock.SemLock // the parent job's held mutex, held by this run
	pending   *semlock.SemLock // the parent job's held mutex, not (yet) claimed

	env     []string                  // environment of every job, without the per-job variables and POOLRUN_SEMLOCKS
	handles map[string]semlock.Handle // POOLRUN_SEMLOCKS of every job, without its slot's heldName
}

// openCap finds or makes the cap. Order: --sem NAME; else a cap inherited
// through POOLRUN_SEMLOCKS; else a new private set of -j units, tracked so
// that it is removed even if poolrun is killed.
func openCap(o *options, log hclog.Logger) (*jobCap, error) {
	c := &jobCap{}
	parent, err := rebuild.FromEnv()
	if err != nil {
		log.Warn("ignoring the inherited cap: a nested run shares it only while it exists", "error", err)
		parent = nil
	}
	pcap, _ := parent.Lookup(capName)
	switch {
	case o.sem != "":
		s, err := semlock.Open(o.sem, semlock.Semaphore, o.jobs, o.jobs)
		if err != nil {
			parent.Close()
			return nil, fmt.Errorf("--sem %s: %w", o.sem, err)
		}
		c.sem = s
		max := s.Handle().MaxValue
		c.limit = max
		if o.jobsSet {
			c.limit = o.jobs
			if max != o.jobs {
				fmt.Fprintf(os.Stderr, "poolrun: --sem %s exists with %d slots (created by an earlier run): -j %s does not resize it; at most %d jobs run at once across all its users\n", o.sem, max, o.jobsSpec, max)
			}
		}
		recordName(o.sem)
	case pcap != nil:
		c.sem = pcap
		c.limit = pcap.Handle().MaxValue
		if o.jobsSet {
			c.limit = o.jobs
		}
		log.Debug("sharing the parent's cap", "set", pcap.ID(), "max", pcap.Handle().MaxValue)
	default:
		s, err := spawn.NewTracked(semlock.Semaphore, o.jobs, o.jobs)
		if err != nil {
			parent.Close()
			return nil, fmt.Errorf("creating the cap (%d slots): %w", o.jobs, err)
		}
		c.sem, c.private, c.limit = s, true, o.jobs
	}
	h := c.sem.Handle()
	mark := strconv.Itoa(h.ID) + "." + strconv.FormatUint(uint64(h.Token), 10)
	if pcap != nil && os.Getenv(heldEnv) == mark {
		if m, ok := parent.Lookup(heldName); ok {
			c.pending = m
			if c.claim = claimHeldLock(m); c.claim != nil {
				c.pending, c.inherited, c.inhFree = nil, true, true
			} else {
				log.Debug("the job's unit of the cap is in use by another run in the job: taking units of the cap")
			}
		}
	}

	hs := parent.Handles()
	delete(hs, heldName)
	hs[capName] = h
	if _, err := rebuild.Encode(hs); err != nil {
		c.close()
		return nil, err
	}
	c.handles = hs
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case rebuild.EnvVar, heldEnv, "POOLRUN_SEQ", "POOLRUN_SLOT":
			continue
		}
		c.env = append(c.env, kv)
	}
	c.env = append(c.env, heldEnv+"="+mark)
	for name, l := range parentLocks(parent) {
		if (name != capName || l != c.sem) && l != c.claim && l != c.pending {
			l.Close()
		}
	}
	return c, nil
}

// claimHeldLock takes, without waiting, the held mutex m a parent job
// passed in POOLRUN_SEMLOCKS, and returns it, or nil if another run in
// the job has it.
func claimHeldLock(m *semlock.SemLock) *semlock.SemLock {
	if m.Kind() != semlock.Mutex {
		return nil
	}
	got, err := m.TryAcquire()
	if got && (err == nil || errors.Is(err, semlock.ErrOwnerDead)) {
		return m
	}
	return nil
}

// unclaim gives back the held mutex claimHeld took.
func unclaim(m *semlock.SemLock) error {
	if m == nil {
		return nil
	}
	err := m.Release()
	m.Close()
	return err
}

// slotEnv is POOLRUN_SEMLOCKS for the jobs of one slot: the cap's
// handles plus the slot's held mutex.
func (c *jobCap) slotEnv(held semlock.Handle) (string, error) {
	hs := make(map[string]semlock.Handle, len(c.handles)+1)
	for k, v := range c.handles {
		hs[k] = v
	}
	hs[heldName] = held
	enc, err := rebuild.Encode(hs)
	if err != nil {
		return "", err
	}
	return rebuild.EnvVar + "=" + enc, nil
}

func parentLocks(s *rebuild.Set) map[string]*semlock.SemLock {
	m := map[string]*semlock.SemLock{}
	for _, n := range s.Names() {
		l, _ := s.Lookup(n)
		m[n] = l
	}
	return m
}

// acquire takes a unit for one job: the inherited one if it is free,
// else one from the set, waiting until one is free or ctx is done. A run
// that found its parent job's unit claimed by another run in the job
// also claims it if that run ends first (else two runs started in one
// job of a -j 1 cap would wait for each other's units for ever): it
// retries the claim every pollClaim while it waits.
func (c *jobCap) acquire(ctx context.Context) (inherited bool, err error) {
	for {
		c.mu.Lock()
		if !c.inherited && c.pending != nil {
			if m := claimHeldLock(c.pending); m != nil {
				c.claim, c.pending, c.inherited, c.inhFree = m, nil, true, true
			}
		}
		if c.inherited && c.inhFree {
			c.inhFree = false
			c.mu.Unlock()
			return true, nil
		}
		if !c.inherited && c.pending == nil {
			c.mu.Unlock()
			return false, c.sem.Acquire(ctx)
		}
		wctx, cancel := context.WithCancel(ctx)
		if c.pending != nil {
			cancel()
			wctx, cancel = context.WithTimeout(ctx, pollClaim)
		}
		c.wake = cancel
		c.mu.Unlock()
		err := c.sem.Acquire(wctx)
		c.mu.Lock()
		c.wake = nil
		c.mu.Unlock()
		cancel()
		if err == nil {
			return false, nil
		}
		if ctx.Err() != nil {
			return false, err
		}
		// Woken: the inherited unit came free, or time to retry the claim.
	}
}

// pollClaim is how often a waiting run retries to claim its parent
// job's unit (see acquire).
const pollClaim = 50 * time.Millisecond

// tryAcquire takes a unit without waiting, if one is free.
func (c *jobCap) tryAcquire() (inherited, ok bool) {
	c.mu.Lock()
	if c.inherited && c.inhFree {
		c.inhFree = false
		c.mu.Unlock()
		return true, true
	}
	c.mu.Unlock()
	ok, err := c.sem.TryAcquire()
	return false, ok && err == nil
}

// release gives back what acquire returned.
func (c *jobCap) release(inherited bool) error {
	if !inherited {
		return c.sem.Release()
	}
	c.mu.Lock()
	c.inhFree = true
	if c.wake != nil {
		c.wake()
	}
	c.mu.Unlock()
	return nil
}

// close removes a private cap (and untracks it); a shared one is only
// closed in this process.
func (c *jobCap) close() error {
	if c.pending != nil {
		c.pending.Close()
		c.pending = nil
	}
	if err := unclaim(c.claim); err != nil {
		c.claim = nil
		c.sem.Close()
		return err
	}
	c.claim = nil
	if c.private {
		return spawn.RemoveTracked(c.sem)
	}
	return c.sem.Close()
}
