package slots

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/poolrun/poolrun/rebuild"
	"github.com/poolrun/poolrun/semlock"
	"github.com/poolrun/poolrun/spawn"
)

// The nested-run protocol, in a job's environment:
//
//   - POOLRUN_SEMLOCKS (rebuild.EnvVar) carries the cap's set as CapName,
//     and HeldName, a private mutex of the job's slot;
//   - HeldEnv is "ID.TOKEN" of the cap's set: the job runs on one unit of
//     that set.
//
// A process that finds both, and takes the HeldName mutex without
// waiting, may run on the job's unit: it is a slot for free (make's
// jobserver rule: every job has one implicit token), so nested runs cannot
// deadlock. The mutex is taken for each slot run on the unit and given
// back with it, so the unit is used by one process of the job at a time:
// a second run started at the same time in the same job takes units of
// the cap like any other user, and retries the job's unit while it
// waits, so the two take turns on it. The mutex has undo: a process
// killed on the unit gives it back.
const (
	// CapName is the cap's name in POOLRUN_SEMLOCKS.
	CapName = "poolrun.cap"
	// HeldName is, in POOLRUN_SEMLOCKS, the mutex of the job's unit.
	HeldName = "poolrun.held"
	// HeldEnv marks that a process runs on a unit of the cap: "ID.TOKEN".
	HeldEnv = "POOLRUN_CAP_HELD"
)

// pollClaim is how often a waiter that found its job's unit claimed by
// another run in the job retries the claim (see parentUnit).
const pollClaim = 50 * time.Millisecond

// sysvCap is the three SysV kinds: a private, a named or an inherited
// semaphore, and the unit of a parent job of that semaphore if this
// process runs in one.
type sysvCap struct {
	sem     *semlock.SemLock
	private bool        // made by New: removed by Close
	unit    *parentUnit // nil: this process runs in no job of this set
	mark    string      // HeldEnv of processes started on our slots
	// POOLRUN_SEMLOCKS of those processes, without their HeldName.
	handles map[string]semlock.Handle

	capSlot  semSlot
	unitSlot unitSlot
}

// New makes a private cap of n slots: a SysV semaphore tracked by this
// process's tracker, so that it is removed even if the process is killed
// (the process must have called spawn.Dispatch). Close removes it.
func New(n int) (Cap, error) {
	if n < 1 || n > semlock.MaxValue {
		return nil, fmt.Errorf("slots: a cap of %d slots: want 1 to %d", n, semlock.MaxValue)
	}
	s, err := spawn.NewTracked(semlock.Semaphore, n, n)
	if err != nil {
		return nil, fmt.Errorf("slots: creating a cap of %d slots: %w", n, err)
	}
	// The processes started on its slots still get every handle this
	// process inherited (a pool's mutexes, say), with this cap instead of
	// an inherited one.
	parent, _ := rebuild.FromEnv()
	c, err := newSysv(s, true, parent)
	if err != nil {
		spawn.RemoveTracked(s)
		return nil, err
	}
	return c, nil
}

// Open opens the machine-wide cap name, shared by every process of this
// user that opens it, creating it with n slots if it does not exist. An
// existing cap keeps its size: compare Size with n to tell the user. Close
// only closes it; `poolrun sem rm` removes it.
func Open(name string, n int) (Cap, error) {
	if n < 1 || n > semlock.MaxValue {
		return nil, fmt.Errorf("slots: cap %q of %d slots: want 1 to %d", name, n, semlock.MaxValue)
	}
	s, err := semlock.Open(name, semlock.Semaphore, n, n)
	if err != nil {
		return nil, fmt.Errorf("slots: cap %q: %w", name, err)
	}
	parent, _ := rebuild.FromEnv() // a broken environment only means no job's unit to claim
	c, err := newSysv(s, false, parent)
	if err != nil {
		s.Close()
		return nil, err
	}
	return c, nil
}

// FromEnv attaches the cap this process inherited from the poolrun job it
// runs in (POOLRUN_SEMLOCKS), verified. It returns ErrNoCap if there is
// none, and an error that says what is wrong if the environment names a
// cap that cannot be attached (removed, or not ours).
func FromEnv() (Cap, error) {
	parent, err := rebuild.FromEnv()
	if err != nil {
		return nil, fmt.Errorf("slots: the inherited cap: %w", err)
	}
	s, ok := parent.Lookup(CapName)
	if !ok || s.Kind() != semlock.Semaphore {
		parent.Close()
		return nil, ErrNoCap
	}
	return newSysv(s, false, parent)
}

// FromSemLock is a cap over s, a counting semaphore this process created,
// opened or attached (a pool worker attaches its pool's limit this way).
// It has no job's unit; Close closes s in this process.
func FromSemLock(s *semlock.SemLock) (Cap, error) {
	if s.Kind() != semlock.Semaphore {
		return nil, fmt.Errorf("slots: set %d is a %v, not a semaphore", s.ID(), s.Kind())
	}
	return newSysv(s, false, nil)
}

// Default is the cap a batch or a pool of n uses when not told otherwise:
// the inherited one (FromEnv) if this process runs in a poolrun job, else
// a new private cap of n slots. An environment that names a cap that
// cannot be attached is an error here; poolrun warns and makes a private
// cap instead (call FromEnv and New to do the same).
func Default(n int) (Cap, error) {
	c, err := FromEnv()
	if errors.Is(err, ErrNoCap) {
		return New(n)
	}
	return c, err
}

// newSysv makes the cap of set s. parent is what this process inherited
// (nil if nothing): if s is the cap of the job this process runs in, the
// job's unit is claimed. Every handle of parent that the cap does not
// keep is closed.
func newSysv(s *semlock.SemLock, private bool, parent *rebuild.Set) (*sysvCap, error) {
	h := s.Handle()
	c := &sysvCap{sem: s, private: private, mark: strconv.Itoa(h.ID) + "." + strconv.FormatUint(uint64(h.Token), 10)}
	c.capSlot.c, c.unitSlot.c = c, c
	var keep *semlock.SemLock // parent's held mutex, if the cap keeps it
	if parent != nil {
		if pcap, _ := parent.Lookup(CapName); pcap != nil && pcap.ID() == h.ID && pcap.Handle().Token == h.Token && os.Getenv(HeldEnv) == c.mark {
			if m, ok := parent.Lookup(HeldName); ok && m.Kind() == semlock.Mutex {
				c.unit, keep = newParentUnit(m), m
			}
		}
		c.handles = parent.Handles()
		for _, n := range parent.Names() {
			if l, _ := parent.Lookup(n); l != s && l != keep {
				l.Close()
			}
		}
	}
	if c.handles == nil {
		c.handles = map[string]semlock.Handle{}
	}
	delete(c.handles, HeldName)
	c.handles[CapName] = h
	if _, err := rebuild.Encode(c.handles); err != nil {
		c.unit.close()
		return nil, fmt.Errorf("slots: %w", err)
	}
	return c, nil
}

func (c *sysvCap) Size() int { return c.sem.Handle().MaxValue }

// Acquire takes the job's unit if no process of the job runs on it, else
// a unit of the set. While another process of the job runs on the unit,
// it retries the unit every pollClaim as it waits (else two runs started
// in one job of a one-slot cap would wait for each other for ever).
func (c *sysvCap) Acquire(ctx context.Context) (Slot, error) {
	u := c.unit
	if u == nil {
		if err := c.sem.Acquire(ctx); err != nil {
			return nil, err
		}
		return &c.capSlot, nil
	}
	for {
		wctx, cancel, ok := u.take(ctx)
		if ok {
			return &c.unitSlot, nil
		}
		err := c.sem.Acquire(wctx)
		woken := wokenOnly(ctx, wctx, err)
		cancel()
		switch {
		case err == nil:
			return &c.capSlot, nil
		case !woken:
			return nil, err
		}
		// Woken: the job's unit came free, or it is time to retry the claim.
	}
}

// wokenOnly reports whether a wait with wctx (derived from ctx) that
// failed with err ended because of wctx alone: ctx is still live. semlock
// times a wait out by itself (semtimedop), a moment before wctx's timer
// marks it done, so DeadlineExceeded counts as wctx's when ctx has no
// deadline that has passed.
func wokenOnly(ctx, wctx context.Context, err error) bool {
	if err == nil || ctx.Err() != nil {
		return false
	}
	if wctx.Err() != nil {
		return true
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	dl, ok := ctx.Deadline()
	return !ok || time.Now().Before(dl)
}

func (c *sysvCap) TryAcquire() (Slot, bool, error) {
	if c.unit != nil && c.unit.tryTake() {
		return &c.unitSlot, true, nil
	}
	ok, err := c.sem.TryAcquire()
	if err != nil || !ok {
		return nil, false, err
	}
	return &c.capSlot, true, nil
}

// Share makes a private mutex for the job's unit (HeldName) and the
// environment that names it with the cap.
func (c *sysvCap) Share() (Share, error) {
	m, err := spawn.NewTracked(semlock.Mutex, 1, 1)
	if err != nil {
		return nil, fmt.Errorf("slots: the mutex that lets a job share its slot: %w", err)
	}
	hs := make(map[string]semlock.Handle, len(c.handles)+1)
	for k, v := range c.handles {
		hs[k] = v
	}
	hs[HeldName] = m.Handle()
	enc, err := rebuild.Encode(hs)
	if err != nil {
		spawn.RemoveTracked(m)
		return nil, fmt.Errorf("slots: %w", err)
	}
	return &sysvShare{m: m, env: []string{rebuild.EnvVar + "=" + enc, HeldEnv + "=" + c.mark}}, nil
}

func (c *sysvCap) Close() error {
	uerr := c.unit.close()
	if c.private {
		return errors.Join(uerr, spawn.RemoveTracked(c.sem))
	}
	return errors.Join(uerr, c.sem.Close())
}

// semSlot is a unit of the set: every such slot is the same value, since
// a unit taken with undo is this process's, whichever goroutine took it.
type semSlot struct{ c *sysvCap }

func (s *semSlot) Release() error { return s.c.sem.Release() }

// unitSlot is the parent job's unit.
type unitSlot struct{ c *sysvCap }

func (s *unitSlot) Release() error { return s.c.unit.give() }

type sysvShare struct {
	m   *semlock.SemLock
	env []string
}

func (s *sysvShare) Env() []string { return s.env }
func (s *sysvShare) Close() error  { return spawn.RemoveTracked(s.m) }
