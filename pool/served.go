package pool

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/poolrun/poolrun/internal/etcdhelper"
	"github.com/poolrun/poolrun/internal/remotecap"
	"github.com/poolrun/poolrun/jobserver"
	"github.com/poolrun/poolrun/slots"
	"golang.org/x/sys/unix"
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
			return fmt.Errorf("pool: shared limit: %w", err)
		}
		if n := c.Size(); n != p.cfg.limit {
			p.warn(fmt.Sprintf("SharedLimit(%q, %d): the cap exists with %d slots (made by an earlier user): at most %d tasks run at once across all its users", p.cfg.limitName, p.cfg.limit, n, n))
		}
		p.served = append(p.served, servedCap{c, kindEtcd, c.Close})
		p.lostWatch(c)
	}
	if !p.cfg.jobserver || jobserver.ServedByParent(nil) {
		// A pool in a poolrun job: that job's cap is the inherited one
		// (slots.FromEnv), which its jobserver only mirrors.
		return nil
	}
	c, err := joinJobserver()
	switch {
	case errors.Is(err, jobserver.ErrNoJobserver):
		return nil
	case err != nil:
		p.warn(fmt.Sprintf("%s; running without it", err))
		return nil
	}
	p.log.Debug("a client of make's jobserver", "auth", c.Auth().Word)
	p.jobserver = c.Auth()
	p.served = append(p.served, servedCap{c, kindMake, leaveJobserver})
	return nil
}

// servedCap is a cap the pool serves its workers, what it is (for their
// messages), and how the pool lets go of it.
type servedCap struct {
	cap   slots.Cap
	kind  string
	close func() error
}

// The kinds of served caps, as workers name them.
const (
	kindEtcd = "etcd"
	kindMake = "make"
)

// kindName is how a worker's messages name a served cap of kind k.
func kindName(k string) string {
	if k == kindMake {
		return "make's jobserver, served by the pool"
	}
	return "the pool's shared limit"
}

// processJobserver is this process's one client of make's jobserver,
// shared by all its pools: the implicit token is the process's, once, so
// two pools must not each count it.
var processJobserver struct {
	mu    sync.Mutex
	c     *jobserver.Client
	users int
}

// joinJobserver is the process's jobserver client, connected by its
// first user (jobserver.ClientFromEnv's errors then).
func joinJobserver() (*jobserver.Client, error) {
	pj := &processJobserver
	pj.mu.Lock()
	defer pj.mu.Unlock()
	if pj.c == nil {
		c, err := jobserver.ClientFromEnv(nil)
		if err != nil {
			return nil, err
		}
		pj.c = c
	}
	pj.users++
	return pj.c, nil
}

// leaveJobserver lets go of the process's client; the last user closes it.
func leaveJobserver() error {
	pj := &processJobserver
	pj.mu.Lock()
	defer pj.mu.Unlock()
	if pj.users--; pj.users > 0 {
		return nil
	}
	c := pj.c
	pj.c = nil
	return c.Close()
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

// closeServed lets go of the served caps once every worker's Serve has
// returned (each gives back what its worker held), waiting at most
// serveDrain for them.
func (p *Pool) closeServed() error {
	done := make(chan struct{})
	go func() { p.serving.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(serveDrain):
		p.log.Warn("served caps: a worker's requests were still being answered; closing the caps all the same")
	}
	var errs []error
	for _, c := range p.served {
		errs = append(errs, c.close())
	}
	p.served = nil
	return errors.Join(errs...)
}

// serveDrain bounds how long Close waits for the workers' Serves.
const serveDrain = 5 * time.Second

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
	caps := make([]slots.Cap, len(p.served))
	for i, sc := range p.served {
		caps[i] = sc.cap
	}
	serve = func() {
		for i, e := range ours {
			p.serving.Add(1)
			go func() {
				defer p.serving.Done()
				remotecap.Serve(e.reqR, e.ansW, caps[i])
				e.reqR.Close()
				e.ansW.Close()
			}()
		}
	}
	return files, serve, nil
}

// servedConf is the servedEnv value for a worker: "N outer|own KINDS".
func (p *Pool) servedConf() string {
	how := "outer"
	if p.cfg.limitName != "" || p.jobserver.Word != "" {
		how = "own"
	}
	kinds := make([]string, len(p.served))
	for i, sc := range p.served {
		kinds[i] = sc.kind
	}
	return strconv.Itoa(len(p.served)) + " " + how + " " + strings.Join(kinds, ",")
}

// workerEnviron is the environment of a worker: this process's, less what
// names make's jobserver in pipe style (its descriptors are not handed to
// the workers: they take make's tokens through the pool), and without
// the mark of a held poolrun unit when make's jobserver is the cap (make
// runs this process on that unit: a poolrun in a task must not take it
// for free), as poolrun does for its jobs.
func (p *Pool) workerEnviron() []string {
	env := os.Environ()
	if p.jobserver.Word == "" {
		return env
	}
	if p.jobserver.Style == jobserver.Pipe {
		env = jobserver.SetWord(env, "", 0)
	}
	return append(env, slots.HeldEnv+"=")
}

// parseServedConf reads servedEnv in a worker: the kinds of the caps
// served, and whether the cap inherited from a poolrun job applies too.
func parseServedConf(s string) (kinds []string, outer bool, err error) {
	if s == "" {
		return nil, true, nil
	}
	f := strings.Split(s, " ")
	bad := func() ([]string, bool, error) {
		return nil, false, fmt.Errorf("pool: worker: bad %s=%q: pool workers are started by pool.New only", servedEnv, s)
	}
	if len(f) != 3 || (f[1] != "outer" && f[1] != "own") {
		return bad()
	}
	n, err := strconv.Atoi(f[0])
	if err != nil || n < 0 || n > 8 {
		return bad()
	}
	if n > 0 {
		kinds = strings.Split(f[2], ",")
	}
	if len(kinds) != n {
		return bad()
	}
	for _, k := range kinds {
		if k != kindEtcd && k != kindMake {
			return bad()
		}
	}
	return kinds, f[1] == "outer", nil
}

// attachServed is a worker's view of the caps its parent serves it, of
// the kinds given.
func attachServed(kinds []string) ([]slots.Cap, error) {
	var caps []slots.Cap
	for i, k := range kinds {
		name := kindName(k)
		fa, fr := 5+2*i, 6+2*i
		if !fdOpen(fa) || !fdOpen(fr) {
			return caps, fmt.Errorf("pool: worker: the pipes of %s (fds %d, %d) are missing: pool workers are started by pool.New only", name, fa, fr)
		}
		ans := os.NewFile(uintptr(fa), "pool-cap-answers")
		req := os.NewFile(uintptr(fr), "pool-cap-requests")
		// Kept from the task's own children, as fds 3 and 4 are.
		syscall.CloseOnExec(fa)
		syscall.CloseOnExec(fr)
		c, err := remotecap.Attach(ans, req, name, servedWait)
		if err != nil {
			return caps, fmt.Errorf("pool: worker: %s: %w", name, err)
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
	return f.hold(s)
}

func (f *fenced) TryAcquire() (slots.Slot, bool, error) {
	s, ok, err := f.Cap.TryAcquire()
	if !ok || err != nil {
		return nil, false, err
	}
	fs, err := f.hold(s)
	return fs, err == nil, err
}

// hold counts s as held, then checks that the cap was not lost meanwhile:
// a loss that watch saw before the count would otherwise let a task run
// on a lost slot. (watch reads the count after Lost is closed; this reads
// Lost after the count: one of the two sees the other.)
func (f *fenced) hold(s slots.Slot) (slots.Slot, error) {
	f.held.Add(1)
	select {
	case <-f.Lost():
		f.held.Add(-1)
		s.Release()
		return nil, f.Err()
	default:
	}
	return fencedSlot{s, f}, nil
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
	// The worker leads its process group (spawn starts it so): the
	// task's own children go with it.
	syscall.Kill(-os.Getpid(), syscall.SIGKILL)
	os.Exit(4)
}

// lostReason is a lost cap's error as one readable clause: the URL and
// why, without the layers' prefixes.
func lostReason(err error) string {
	s := err.Error()
	for {
		t := strings.TrimPrefix(strings.TrimPrefix(s, "remotecap: the cap is lost: "), kindName(kindEtcd)+": ")
		if t == s {
			break
		}
		s = t
	}
	return strings.ReplaceAll(s, "etcdcap: the cap's lease is lost: ", "")
}

// fdOpen reports whether fd is an open descriptor.
func fdOpen(fd int) bool {
	_, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
	return err == nil
}
