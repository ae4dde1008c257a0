package pool

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/poolrun/poolrun/internal/etcdhelper"
	"github.com/poolrun/poolrun/internal/remotecap"
	"github.com/poolrun/poolrun/jobserver"
	"github.com/poolrun/poolrun/slots"
)

// Some caps cannot be taken in a worker the way a SysV semaphore is:
// make's jobserver counts the service's own implicit token once, and an
// etcd cap is a session on a helper process. The pool holds those caps
// in its own process and serves each worker its own view of them, over a
// pair of pipes per cap (internal/remotecap): a worker asks for a slot
// before each task and gives it back after, as with its other caps. When
// a worker dies, however it dies, its pipes close and the pool gives
// back every slot that worker held: a killed worker costs make no token
// and etcd no slot.

// servedEnv tells a worker how many caps its parent serves it (fds 5 and
// 6 for the first: answers and requests, then 7 and 8, …) and whether it
// also takes a slot of the cap inherited from a poolrun job ("outer") or
// not ("own": the pool's limit is a named cap, or make's jobserver is the
// nearer cap).
const servedEnv = "POOLRUN_POOL_CAPS"

// servedWait bounds a worker's wait for its parent to serve a cap.
const servedWait = 30 * time.Second

// openServed opens the caps the pool serves its workers: an etcd
// SharedLimit, and make's jobserver if the pool runs under one. A
// jobserver that MAKEFLAGS names but that cannot be used is a warning,
// and the pool runs without it, as make does.
func (p *Pool) openServed() error {
	if etcdhelper.IsURL(p.cfg.limitName) {
		c, err := etcdhelper.Open(p.cfg.limitName, p.cfg.limit)
		if err != nil {
			return fmt.Errorf("pool: shared limit: %s", strings.TrimPrefix(err.Error(), "etcdcap: "))
		}
		if n := c.Size(); n != p.cfg.limit {
			p.warn(fmt.Sprintf("SharedLimit(%q, %d): the cap exists with %d slots (made by an earlier user): at most %d tasks run at once across all its users", p.cfg.limitName, p.cfg.limit, n, n))
		}
		p.served = append(p.served, c)
		p.lostWatch(c)
	}
	if !p.cfg.jobserver || jobserver.ServedByParent(nil) {
		// A pool in a poolrun job: that job's cap is the inherited one
		// (slots.FromEnv), which its jobserver only mirrors.
		return nil
	}
	c, err := jobserver.ClientFromEnv(nil)
	switch {
	case errors.Is(err, jobserver.ErrNoJobserver):
		return nil
	case err != nil:
		p.warn(fmt.Sprintf("%s; running without it", err))
		return nil
	}
	p.log.Debug("a client of make's jobserver", "auth", c.Auth().Word)
	p.jobserver = true
	p.served = append(p.served, c)
	return nil
}

// warn says something the user must know about the pool's caps: to the
// Logger if there is one, else on stderr, one line, as make does.
func (p *Pool) warn(msg string) {
	if p.cfg.logSet {
		p.log.Warn(msg)
		return
	}
	fmt.Fprintf(os.Stderr, "pool: warning: %s\n", strings.TrimPrefix(msg, "pool: "))
}

// lostWatch stops the pool's running tasks when c loses its slots (an
// etcd lease that could not be renewed): each worker is told by its own
// view of c and exits at once (see watchLost); the pool replaces them,
// and every later task fails to get a slot.
func (p *Pool) lostWatch(c *remotecap.Cap) {
	go func() {
		select {
		case <-c.Lost():
			p.warn(fmt.Sprintf("the shared limit is lost (%s): the running tasks are stopped, and every later task fails to get a slot: make a new pool once etcd is back", lostReason(c.Err())))
		case <-p.finished:
		}
	}()
}

func (p *Pool) closeServed() error {
	var errs []error
	for _, c := range p.served {
		errs = append(errs, c.Close())
	}
	p.served = nil
	return errors.Join(errs...)
}

// servedFiles makes the pipes of a worker's served caps: files go to the
// worker (appended to its ExtraFiles after fds 3 and 4) and are closed by
// the caller once it has started; serve, called then, serves the caps
// until the worker's ends close.
func (p *Pool) servedFiles() (files []*os.File, serve func(), err error) {
	type ends struct{ reqR, ansW *os.File }
	var ours []ends
	closeAll := func() {
		for _, f := range files {
			f.Close()
		}
		for _, e := range ours {
			e.reqR.Close()
			e.ansW.Close()
		}
	}
	for range p.served {
		ansR, ansW, err := os.Pipe()
		if err != nil {
			closeAll()
			return nil, nil, err
		}
		reqR, reqW, err := os.Pipe()
		if err != nil {
			ansR.Close()
			ansW.Close()
			closeAll()
			return nil, nil, err
		}
		files = append(files, ansR, reqW)
		ours = append(ours, ends{reqR, ansW})
	}
	serve = func() {
		for i, e := range ours {
			go func() {
				remotecap.Serve(e.reqR, e.ansW, p.served[i])
				e.reqR.Close()
				e.ansW.Close()
			}()
		}
	}
	return files, serve, nil
}

// servedConf is the servedEnv value for a worker.
func (p *Pool) servedConf() string {
	how := "outer"
	if p.cfg.limitName != "" || p.jobserver {
		how = "own"
	}
	return strconv.Itoa(len(p.served)) + " " + how
}

// parseServedConf reads servedEnv in a worker: how many caps are served,
// and whether the cap inherited from a poolrun job applies too.
func parseServedConf(s string) (n int, outer bool, err error) {
	if s == "" {
		return 0, true, nil
	}
	num, how, _ := strings.Cut(s, " ")
	n, err = strconv.Atoi(num)
	if err != nil || n < 0 || n > 8 || (how != "outer" && how != "own") {
		return 0, false, fmt.Errorf("pool: worker: bad %s=%q: pool workers are started by pool.New only", servedEnv, s)
	}
	return n, how == "outer", nil
}

// attachServed is a worker's view of the n caps its parent serves it.
func attachServed(n int) ([]slots.Cap, error) {
	var caps []slots.Cap
	for i := range n {
		ans := os.NewFile(uintptr(5+2*i), "pool-cap-answers")
		req := os.NewFile(uintptr(6+2*i), "pool-cap-requests")
		if ans == nil || req == nil {
			return caps, fmt.Errorf("pool: worker: the pipes of served cap %d (fds %d, %d) are missing", i, 5+2*i, 6+2*i)
		}
		// Kept from the task's own children, as fds 3 and 4 are.
		syscall.CloseOnExec(5 + 2*i)
		syscall.CloseOnExec(6 + 2*i)
		c, err := remotecap.Attach(ans, req, "the pool's shared limit", servedWait)
		if err != nil {
			return caps, fmt.Errorf("pool: worker: served cap %d: %w", i, err)
		}
		f := &fenced{Cap: c}
		caps = append(caps, f)
		go f.watch()
	}
	return caps, nil
}

// fenced is a worker's view of a served cap that counts the slots its
// task holds, so that the worker ends if the cap loses them.
type fenced struct {
	*remotecap.Cap
	held atomic.Int32
}

func (f *fenced) Acquire(ctx context.Context) (slots.Slot, error) {
	s, err := f.Cap.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	f.held.Add(1)
	return fencedSlot{s, f}, nil
}

func (f *fenced) TryAcquire() (slots.Slot, bool, error) {
	s, ok, err := f.Cap.TryAcquire()
	if !ok || err != nil {
		return nil, false, err
	}
	f.held.Add(1)
	return fencedSlot{s, f}, true, nil
}

type fencedSlot struct {
	slots.Slot
	f *fenced
}

func (s fencedSlot) Release() error {
	s.f.held.Add(-1)
	return s.Slot.Release()
}

// watch ends this worker at once if the cap loses its slots while its
// task holds one: no task may run outside a held slot. The pool sees the
// worker die, fails the task, and replaces it; later tasks fail to get a
// slot. An idle worker stays.
func (f *fenced) watch() {
	<-f.Lost()
	if f.held.Load() == 0 || strings.Contains(f.Err().Error(), "served it has ended") {
		return // nothing runs on it, or the pool is gone: it stops the worker itself
	}
	fmt.Fprintf(os.Stderr, "pool: worker %d: %s: stopping its task\n", os.Getpid(), lostReason(f.Err()))
	os.Exit(4)
}

// lostReason is a lost cap's error as one readable clause: the URL and
// why, without the layers' prefixes.
func lostReason(err error) string {
	s := err.Error()
	for {
		t := strings.TrimPrefix(strings.TrimPrefix(s, "remotecap: the cap is lost: "), "the pool's shared limit: ")
		if t == s {
			break
		}
		s = t
	}
	return strings.ReplaceAll(s, "etcdcap: the cap's lease is lost: ", "")
}
