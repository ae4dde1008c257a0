package semlock_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/poolrun/poolrun/internal/leakcheck"
	"github.com/poolrun/poolrun/semlock"
)

// nParties is CPython's _TestBarrier.N.
const nParties = 5

func newBarrier(t testing.TB, n int, action func() error) *semlock.Barrier {
	t.Helper()
	b, err := semlock.NewBarrier(n, action)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Remove() })
	return b
}

// startParties starts n helper processes as parties of b running a.
func startParties(t *testing.T, b *semlock.Barrier, n int, a partyArg, extra ...*os.File) []*child {
	t.Helper()
	h := b.Handle()
	a.N = n
	var cs []*child
	for range n {
		cs = append(cs, startHelper(t, "barrier-party", &h, marshal(a), extra...))
	}
	return cs
}

// collect reads every line the children print until they exit, and
// counts them.
func collect(t *testing.T, cs []*child) map[string]int {
	t.Helper()
	got := map[string]int{}
	for _, c := range cs {
		for {
			l, ok := <-c.lines
			if !ok {
				break
			}
			got[l]++
		}
		c.wait()
	}
	return got
}

// The actions semaphore a barrier's action releases once per round.
func newCounter(t *testing.T) *semlock.SemLock {
	return newSet(t, semlock.Semaphore, 0, semlock.MaxValue, semlock.WithoutUndo())
}

// roundsInLockstep runs n processes through rounds rounds of b; each
// writes the round's number to one pipe after passing it. As in CPython's
// test_thousand, the parent reads n times 0, then n times 1, ...: no party
// passes round i+1 before every party has passed round i. Exactly one
// Wait returns 0 per round (test_wait_return) and the action runs once
// per round (test_action).
func roundsInLockstep(t *testing.T, n, rounds int) {
	acts := newCounter(t)
	b := newBarrier(t, n, nil)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ah := acts.Handle()
	cs := startParties(t, b, n, partyArg{Scenario: "rounds", Rounds: rounds, Actions: &ah, Pipe: true}, w)
	w.Close()
	sc := bufio.NewScanner(r)
	for i := range rounds {
		for j := range n {
			if !sc.Scan() {
				t.Fatalf("round %d, party %d: the pipe ended (%v)", i, j, sc.Err())
			}
			if got := sc.Text(); got != strconv.Itoa(i) {
				t.Fatalf("round %d, party %d: read %q: a party passed a round before the others passed the last", i, j, got)
			}
		}
	}
	zeros := 0
	for _, c := range cs {
		var z int
		if _, err := fmt.Sscanf(c.line(), "zeros %d", &z); err != nil {
			t.Fatal(err)
		}
		zeros += z
		c.wait()
	}
	if zeros != rounds {
		t.Errorf("%d Waits returned 0 in %d rounds, want one a round", zeros, rounds)
	}
	if v := value(t, acts); v != rounds {
		t.Errorf("the action ran %d times in %d rounds, want once a round", v, rounds)
	}
	if broken, err := b.Broken(); broken || err != nil {
		t.Errorf("broken %v, %v after the rounds", broken, err)
	}
}

// test_barrier (1 and 10 passes), test_wait_return, test_action.
func TestBarrierLockstep(t *testing.T) {
	leakcheck.Check(t)
	roundsInLockstep(t, nParties, 1)
	roundsInLockstep(t, nParties, 10)
}

// test_thousand: 5 processes x 1000 rounds.
func TestBarrierThousand(t *testing.T) {
	leakcheck.Check(t)
	roundsInLockstep(t, nParties, 1000)
}

// The arrival indexes of one round are 0..n-1, each once.
func TestBarrierIndexes(t *testing.T) {
	leakcheck.Check(t)
	b := newBarrier(t, nParties, nil)
	got := collect(t, startParties(t, b, nParties, partyArg{Scenario: "wait"}))
	if got["waiting"] != nParties {
		t.Fatalf("%v", got)
	}
	for i := range nParties {
		if got["index "+strconv.Itoa(i)] != 1 {
			t.Fatalf("indexes %v, want 0..%d once each", got, nParties-1)
		}
	}
}

// test_abort: the party with index N/2 aborts instead of waiting again;
// the others' second Wait fails with ErrBrokenBarrier.
func TestBarrierAbort(t *testing.T) {
	leakcheck.Check(t)
	b := newBarrier(t, nParties, nil)
	got := collect(t, startParties(t, b, nParties, partyArg{Scenario: "abort"}))
	if got["r1"] != 0 || got["r2"] != nParties-1 || got["aborted"] != 1 {
		t.Fatalf("results %v, want r2 %d times and one abort", got, nParties-1)
	}
	if broken, err := b.Broken(); !broken || err != nil {
		t.Fatalf("Broken() = %v, %v after Abort", broken, err)
	}
	if _, err := b.Wait(context.Background()); !errors.Is(err, semlock.ErrBrokenBarrier) {
		t.Fatalf("Wait on an aborted barrier: %v", err)
	}
}

// test_reset: the party with index N/2 waits until the others wait at
// the barrier, then resets it: they fail with ErrBrokenBarrier, and all
// pass the barrier again.
func TestBarrierReset(t *testing.T) {
	leakcheck.Check(t)
	b := newBarrier(t, nParties, nil)
	got := collect(t, startParties(t, b, nParties, partyArg{Scenario: "reset"}))
	if got["r1"] != 0 || got["r2"] != nParties-1 || got["r3"] != nParties {
		t.Fatalf("results %v, want r2 %d times and r3 %d times", got, nParties-1, nParties)
	}
}

// test_abort_and_reset: abort, then everyone syncs on a second barrier,
// one resets, and all pass the first again.
func TestBarrierAbortAndReset(t *testing.T) {
	leakcheck.Check(t)
	b := newBarrier(t, nParties, nil)
	b2 := newBarrier(t, nParties, nil)
	h2 := b2.Handle()
	got := collect(t, startParties(t, b, nParties, partyArg{Scenario: "abort-reset", B2: &h2}))
	if got["r1"] != 0 || got["r2"] != nParties-1 || got["r3"] != nParties {
		t.Fatalf("results %v, want r2 %d times and r3 %d times", got, nParties-1, nParties)
	}
}

// test_timeout: one party is late; the others time out, which breaks the
// barrier for all, the late one included.
func TestBarrierTimeout(t *testing.T) {
	leakcheck.Check(t)
	b := newBarrier(t, nParties, nil)
	got := collect(t, startParties(t, b, nParties, partyArg{Scenario: "timeout", Late: time.Second, Timeout: 300 * time.Millisecond}))
	if got["r2"] != nParties {
		t.Fatalf("results %v, want r2 (broken) %d times", got, nParties)
	}
}

// test_single_thread: a barrier of one party never blocks; the action
// runs every time.
func TestBarrierSingleParty(t *testing.T) {
	leakcheck.Check(t)
	runs := 0
	b := newBarrier(t, 1, func() error { runs++; return nil })
	for range 3 {
		if i, err := b.Wait(context.Background()); i != 0 || err != nil {
			t.Fatalf("Wait = %d, %v", i, err)
		}
	}
	if runs != 3 {
		t.Fatalf("the action ran %d times, want 3", runs)
	}
}

// A party SIGKILLed while waiting at the barrier breaks it for the others
// (the kernel's undo at its exit): ErrBrokenBarrier, never a hang. After
// Reset the barrier works again.
func TestBarrierKilledParty(t *testing.T) {
	leakcheck.Check(t)
	b := newBarrier(t, 3, nil)
	h := b.Handle()
	victim := startHelper(t, "barrier-party", &h, marshal(partyArg{Scenario: "wait"}))
	victim.expect("waiting")
	other := startHelper(t, "barrier-party", &h, marshal(partyArg{Scenario: "wait"}))
	other.expect("waiting")
	waitFor(t, "two parties at the barrier", func() bool { n, _ := b.Waiting(); return n == 2 })
	victim.kill()
	other.expect("broken")
	other.wait()
	if broken, err := b.Broken(); !broken || err != nil {
		t.Fatalf("Broken() = %v, %v after a party died at it", broken, err)
	}
	if _, err := b.Wait(context.Background()); !errors.Is(err, semlock.ErrBrokenBarrier) {
		t.Fatalf("Wait: %v, want ErrBrokenBarrier", err)
	}
	if err := b.Reset(); err != nil {
		t.Fatal(err)
	}
	cs := []*child{
		startHelper(t, "barrier-party", &h, marshal(partyArg{Scenario: "wait"})),
		startHelper(t, "barrier-party", &h, marshal(partyArg{Scenario: "wait"})),
	}
	i, err := b.Wait(context.Background())
	if err != nil {
		t.Fatalf("Wait after Reset: %v", err)
	}
	got := collect(t, cs)
	got["index "+strconv.Itoa(i)]++
	if got["index 0"] != 1 || got["index 1"] != 1 || got["index 2"] != 1 {
		t.Fatalf("after Reset: %v", got)
	}
}

// A failing action breaks the barrier: its party gets the action's error
// (and ErrBrokenBarrier), the others ErrBrokenBarrier.
func TestBarrierActionFails(t *testing.T) {
	leakcheck.Check(t)
	boom := errors.New("boom")
	b := newBarrier(t, 2, func() error { return boom })
	errs := make(chan error, 2)
	for range 2 {
		go func() { _, err := b.Wait(context.Background()); errs <- err }()
	}
	e1, e2 := recv(t, errs), recv(t, errs)
	if !errors.Is(e1, boom) {
		e1, e2 = e2, e1
	}
	if !errors.Is(e1, boom) || !errors.Is(e1, semlock.ErrBrokenBarrier) || !errors.Is(e2, semlock.ErrBrokenBarrier) || errors.Is(e2, boom) {
		t.Fatalf("errors %v and %v", e1, e2)
	}
}

// Cancelling a waiting party wakes it promptly and breaks the barrier; a
// context already done at arrival does too (unless the round ends).
func TestBarrierCancel(t *testing.T) {
	leakcheck.Check(t)
	b := newBarrier(t, 3, nil)
	ctx, cancel := context.WithCancel(context.Background())
	other := make(chan error, 1)
	go func() { _, err := b.Wait(context.Background()); other <- err }()
	done := make(chan error, 1)
	go func() { _, err := b.Wait(ctx); done <- err }()
	waitFor(t, "two parties", func() bool { n, _ := b.Waiting(); return n == 2 })
	cancel()
	err := recv(t, done)
	if !errors.Is(err, context.Canceled) || !errors.Is(err, semlock.ErrBrokenBarrier) {
		t.Fatalf("cancelled Wait: %v, want Canceled and ErrBrokenBarrier", err)
	}
	if err := recv(t, other); !errors.Is(err, semlock.ErrBrokenBarrier) {
		t.Fatalf("the other party: %v", err)
	}
	if err := b.Reset(); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Wait(ctx); !errors.Is(err, semlock.ErrBrokenBarrier) || !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait with a done context: %v", err)
	}
	if err := b.Reset(); err != nil {
		t.Fatal(err)
	}
	// Many rounds by goroutines with timeouts that never fire.
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			for range 50 {
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				_, err := b.Wait(ctx)
				cancel()
				if err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// Bad input and misuse: clear errors.
func TestBarrierMisuse(t *testing.T) {
	leakcheck.Check(t)
	for _, n := range []int{0, -1, semlock.MaxValue + 1} {
		if b, err := semlock.NewBarrier(n, nil); !errors.Is(err, semlock.ErrRange) {
			if b != nil {
				b.Remove()
			}
			t.Errorf("NewBarrier(%d): %v, want ErrRange", n, err)
		}
	}
	b := newBarrier(t, 2, nil)
	h := b.Handle()
	if h.Kind != semlock.BarrierKind || h.MaxValue != 2 || !h.Undo || b.Parties() != 2 {
		t.Fatalf("handle %+v", h)
	}
	if _, err := semlock.AttachEvent(h); !errors.Is(err, semlock.ErrMismatch) {
		t.Errorf("AttachEvent of a barrier: %v", err)
	}
	bad := h
	bad.MaxValue = 3
	if _, err := semlock.AttachBarrier(bad, nil); !errors.Is(err, semlock.ErrMismatch) {
		t.Errorf("AttachBarrier with another number of parties: %v", err)
	}
	// A waiter at a removed barrier gets ErrRemoved.
	done := make(chan error, 1)
	go func() { _, err := b.Wait(context.Background()); done <- err }()
	waitFor(t, "a party", func() bool { n, _ := b.Waiting(); return n == 1 })
	if err := b.Remove(); err != nil {
		t.Fatal(err)
	}
	if err := recv(t, done); !errors.Is(err, semlock.ErrRemoved) {
		t.Fatalf("Wait at a removed barrier: %v", err)
	}
}

// The token check inside each op: a Barrier whose token is off by one
// fails with ErrStale and changes nothing.
func TestBarrierTokenCheck(t *testing.T) {
	leakcheck.Check(t)
	b := newBarrier(t, 2, nil)
	before := allValues(t, b.SemLock())
	for _, d := range []int16{-1, 1} {
		o := semlock.BarrierOn(semlock.WithTokenOff(b.SemLock(), d))
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err1 := o.Wait(ctx)
		_, err2 := o.Broken()
		for i, err := range []error{err1, err2, o.Abort(), o.Reset()} {
			if !errors.Is(err, semlock.ErrStale) {
				t.Errorf("token%+d: call %d: %v, want ErrStale", d, i, err)
			}
		}
		cancel()
	}
	if got := allValues(t, b.SemLock()); !slices.Equal(got, before) {
		t.Fatalf("the set changed: %v, was %v", got, before)
	}
}

// An Abort and a Reset while the last party runs the action: the waiting
// parties fail, Reset returns once they have left, the last party's Wait
// fails, and the barrier works again.
func TestBarrierResetDuringAction(t *testing.T) {
	leakcheck.Check(t)
	inAction, release := make(chan struct{}), make(chan struct{})
	first := true
	b := newBarrier(t, 3, func() error {
		if first {
			first = false
			close(inAction)
			<-release
		}
		return nil
	})
	errs := make(chan error, 3)
	for range 2 {
		go func() { _, err := b.Wait(context.Background()); errs <- err }()
	}
	waitFor(t, "two parties", func() bool { n, _ := b.Waiting(); return n == 2 })
	go func() { _, err := b.Wait(context.Background()); errs <- err }()
	<-inAction
	if err := b.Abort(); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := recv(t, errs); !errors.Is(err, semlock.ErrBrokenBarrier) {
			t.Fatalf("a waiting party: %v", err)
		}
	}
	if err := b.Reset(); err != nil {
		t.Fatal(err)
	}
	close(release)
	if err := recv(t, errs); !errors.Is(err, semlock.ErrBrokenBarrier) {
		t.Fatalf("the party in the action: %v", err)
	}
	for range 3 {
		go func() { _, err := b.Wait(context.Background()); errs <- err }()
	}
	for range 3 {
		if err := recv(t, errs); err != nil {
			t.Fatalf("after Reset: %v", err)
		}
	}
}

// An action that panics breaks the barrier before the panic goes on, so
// the other parties do not hang.
func TestBarrierActionPanics(t *testing.T) {
	leakcheck.Check(t)
	b := newBarrier(t, 2, func() error { panic("boom") })
	errs := make(chan error, 1)
	go func() { _, err := b.Wait(context.Background()); errs <- err }()
	waitFor(t, "a party", func() bool { n, _ := b.Waiting(); return n == 1 })
	func() {
		defer func() {
			if recover() == nil {
				t.Error("the action's panic did not reach Wait's caller")
			}
		}()
		b.Wait(context.Background())
	}()
	if err := recv(t, errs); !errors.Is(err, semlock.ErrBrokenBarrier) {
		t.Fatalf("the other party: %v", err)
	}
}
