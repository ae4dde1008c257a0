package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"

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

	env []string // environment of every job, without the per-job variables
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
		c.inherited, c.inhFree = true, true
	}

	hs := parent.Handles()
	hs[capName] = h
	enc, err := rebuild.Encode(hs)
	if err != nil {
		c.close()
		return nil, err
	}
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case rebuild.EnvVar, heldEnv, "POOLRUN_SEQ", "POOLRUN_SLOT":
			continue
		}
		c.env = append(c.env, kv)
	}
	c.env = append(c.env, rebuild.EnvVar+"="+enc, heldEnv+"="+mark)
	for name, l := range parentLocks(parent) {
		if name != capName || l != c.sem {
			l.Close()
		}
	}
	return c, nil
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
// else one from the set, waiting until one is free or ctx is done.
func (c *jobCap) acquire(ctx context.Context) (inherited bool, err error) {
	if !c.inherited {
		return false, c.sem.Acquire(ctx)
	}
	for {
		c.mu.Lock()
		if c.inhFree {
			c.inhFree = false
			c.mu.Unlock()
			return true, nil
		}
		wctx, cancel := context.WithCancel(ctx)
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
		// Woken: the inherited unit came free while we waited.
	}
}

// tryAcquire takes a unit without waiting, if one is free.
func (c *jobCap) tryAcquire() (inherited, ok bool) {
	if c.inherited {
		c.mu.Lock()
		if c.inhFree {
			c.inhFree = false
			c.mu.Unlock()
			return true, true
		}
		c.mu.Unlock()
	}
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
	if c.private {
		return spawn.RemoveTracked(c.sem)
	}
	return c.sem.Close()
}
