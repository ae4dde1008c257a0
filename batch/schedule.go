package batch

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/poolrun/poolrun/rebuild"
	"github.com/poolrun/poolrun/slots"
)

// scheduler owns the batch's slots: slot numbers 1..limit, the cap they
// take units of, each slot's Share (what its jobs get to share the cap),
// and the feed of inputs.
type scheduler struct {
	cap     slots.Cap // nil: a dry run
	limit   int
	free    chan int      // free slot numbers
	shares  []slots.Share // by slot number; made on the slot's first job
	noShare []bool        // by slot number: its Share could not be made
	keys    []string      // the variables a Share sets
	warn    func(slot int, err error)
	wg      sync.WaitGroup
	in      *feed
}

func dryScheduler(limit int) *scheduler {
	s := &scheduler{limit: limit}
	s.fill(limit)
	return s
}

// newScheduler makes limit slots of cap c. Each slot's Share (what its
// jobs get to share the cap with poolruns started in them) is made on the
// slot's first job, the first one now: a run that uses few of its slots
// (a nested run on a busy cap) makes few sets. warn is told, once, of a
// Share that could not be made (the kernel's limit on semaphore sets):
// the slot's jobs then run without one, rather than fail.
func newScheduler(c slots.Cap, limit int, warn func(slot int, err error)) *scheduler {
	s := &scheduler{cap: c, shares: make([]slots.Share, limit+1), noShare: make([]bool, limit+1), warn: warn}
	s.fill(limit)
	if sh := s.share(1); sh != nil {
		for _, kv := range sh.Env() {
			k, _, _ := strings.Cut(kv, "=")
			s.keys = append(s.keys, k)
		}
	} else {
		s.keys = []string{rebuild.EnvVar, slots.HeldEnv} // the inherited ones go all the same
	}
	return s
}

// fill makes n free slots, 1..n.
func (s *scheduler) fill(n int) {
	s.limit = n
	s.free = make(chan int, n)
	for i := 1; i <= n; i++ {
		s.free <- i
	}
}

// share is slot's Share, made if need be; nil if it cannot be. Only the
// slot's worker calls it (slots are handed from worker to worker through
// the free channel, one at a time).
func (s *scheduler) share(slot int) slots.Share {
	if s.shares == nil || slot >= len(s.shares) {
		return nil
	}
	if s.shares[slot] == nil && !s.noShare[slot] {
		sh, err := s.cap.Share()
		if err != nil {
			s.noShare[slot] = true
			s.warn(slot, err)
			return nil
		}
		s.shares[slot] = sh
	}
	return s.shares[slot]
}

func (s *scheduler) close() {
	for _, sh := range s.shares {
		if sh != nil {
			sh.Close()
		}
	}
	s.shares = nil
}

// item is one job's input: its number (as read) and its arguments.
type item struct {
	seq  int
	args []string
	// context: several inputs packed into the job (Packing.Context).
	context bool
	blk     *block // Pipe: the job's block
}

// input is the arguments as one string: {}, --tag.
func (it *item) input() string {
	if len(it.args) == 1 {
		return it.args[0]
	}
	return strings.Join(it.args, " ")
}

// feed streams a Source to the dispatcher through a small buffered
// channel, read in a goroutine of its own (a read of a slow stdin must
// not hold up the reaction to a signal).
type feed struct {
	ch    chan item
	err   error        // what stopped the reading, valid once ch is closed
	count atomic.Int64 // inputs read so far
	eof   atomic.Bool  // all inputs read
	quit  chan struct{}
	once  sync.Once
}

// inputQueue is how many inputs may wait between the reader and the
// dispatcher.
const inputQueue = 64

func (s *scheduler) feed(src Source) *feed {
	f := &feed{ch: make(chan item, inputQueue), quit: make(chan struct{})}
	s.in = f
	go f.read(src)
	return f
}

func (f *feed) read(src Source) {
	defer close(f.ch)
	defer f.eof.Store(true)
	ps, _ := src.(*packSource)
	for seq := 1; ; seq++ {
		var args []string
		var err error
		context := false
		if ps != nil {
			var pk packed
			pk, err = ps.nextPacked()
			args, context = pk.args, ps.p.Context && pk.inputs > 1
		} else {
			args, err = src.Next()
		}
		if err == io.EOF {
			return
		}
		if err != nil {
			f.err = err
			return
		}
		f.count.Add(1)
		select {
		case f.ch <- item{seq: seq, args: args, context: context}:
		case <-f.quit:
			return
		}
	}
}

func (f *feed) stop() { f.once.Do(func() { close(f.quit) }) }

// dispatch is the only goroutine that waits for the cap. For each free
// slot it takes the next input, waits for a slot of the cap and starts a
// worker on that slot. A worker runs its job, gives the cap's slot back,
// and goes on with the next input itself while one is already queued and
// a slot of the cap can be had without waiting (the common case of a
// private cap), so that a busy batch costs no dispatcher round trip per
// job; otherwise it frees its slot and leaves the input queued. When
// dispatch returns, every worker has ended.
func (s *scheduler) dispatch(ctx context.Context, r *batchRun) error {
	defer s.wg.Wait()
	for {
		var slot int
		select {
		case slot = <-s.free:
		case <-ctx.Done():
			return nil
		}
		// Room for a job's output first, then the input: a worker may run
		// the next input meanwhile and fill the room, and this input's
		// job, earlier in order, would then wait for room only its own
		// output can make.
		if !r.out.waitRoom(ctx) {
			s.free <- slot
			return nil
		}
		var it item
		for {
			var ok bool
			select {
			case it, ok = <-s.in.ch:
			case <-ctx.Done():
				return nil
			}
			if !ok {
				return s.in.err
			}
			if !r.passive(it, slot) {
				break
			}
		}
		r.js.wait(true) // the jobs' jobservers leave the cap's units to the batch meanwhile
		c, err := s.cap.Acquire(ctx)
		r.js.wait(false)
		if err != nil {
			s.free <- slot
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("taking a slot of the cap: %w", err)
		}
		s.wg.Add(1)
		go s.worker(r, slot, c, it)
	}
}

// worker runs jobs on one slot, starting with it, holding c, a slot of
// the cap.
func (s *scheduler) worker(r *batchRun, slot int, c slots.Slot, it item) {
	defer s.wg.Done()
	w := &slotWorker{slot: slot}
	for {
		r.runJob(w, it)
		if err := c.Release(); err != nil {
			r.log.Error("giving a slot back", "error", err)
		}
		// Go on with the next input if a slot of the cap is free now and
		// an input is already there; never wait here (only the dispatcher
		// waits). The cap's slot is taken before the input: a worker that
		// took an input and then found no slot would have to hand the
		// input back, and the dispatcher may already have seen the input
		// channel closed and returned (that lost the input).
		var ok bool
		if c, it, ok = s.next(r, slot); !ok {
			break
		}
	}
	s.free <- slot
}

// next takes a slot of the cap without waiting and then, holding it, the
// next input without waiting. It reports whether it has both; if not, it
// has given the slot back and the input (if any) is still queued for the
// dispatcher. Inputs that run nothing (resume, dry run) are handled on
// the way.
func (s *scheduler) next(r *batchRun, slot int) (slots.Slot, item, bool) {
	for r.dispatchCtx.Err() == nil && r.out.hasRoom() {
		c, ok, _ := s.cap.TryAcquire()
		if !ok {
			break
		}
		var it item
		got := false
		select {
		case it, got = <-s.in.ch:
		default:
		}
		if got && !r.passive(it, slot) {
			return c, it, true
		}
		if err := c.Release(); err != nil {
			r.log.Error("giving a slot back", "error", err)
		}
		if !got {
			break
		}
	}
	return nil, item{}, false
}

// slotWorker is what one slot's worker keeps between its jobs.
type slotWorker struct {
	slot int
	buf  []byte // scratch space for building commands
}

// shrink makes do with n slots (n < limit), before any job runs.
func (s *scheduler) shrink(n int) {
	for _, sh := range s.shares[n+1:] {
		if sh != nil {
			sh.Close()
		}
	}
	s.shares, s.noShare = s.shares[:n+1], s.noShare[:n+1]
	s.fill(n)
}
