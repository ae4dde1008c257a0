package semlock_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/poolrun/poolrun/semlock"
)

// partyArg is the argument of the barrier-party helper.
type partyArg struct {
	Scenario string
	N        int             // parties
	Rounds   int             // rounds
	Pipe     bool            // rounds: write each round's number to fd 3
	Actions  *semlock.Handle // a semaphore the action releases (nil: no action)
	B2       *semlock.Handle // a second barrier (abort-reset)
	Late     time.Duration   // timeout: how late party N/2 comes
	Timeout  time.Duration   // timeout: the others' timeout
}

// condArg is the argument of the condition helpers; the helper's handle
// is the mutex.
type condArg struct {
	Cond     semlock.Handle
	Sleeping semlock.Handle // cond-f: released before sleeping
	Woken    semlock.Handle // cond-f: released after waking
	Timeout  time.Duration  // cond-f: Wait's timeout (0: none)
	File     string         // cond-waitfor: the shared state
}

func marshal(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// barrierOutcome names how a barrier Wait ended, for helpers to print.
func barrierOutcome(i int, err error) string {
	switch {
	case err == nil:
		return "index " + strconv.Itoa(i)
	case errors.Is(err, semlock.ErrBrokenBarrier):
		return "broken"
	}
	return outcome(err)
}

// runSyncHelper runs the Event, Barrier and Condition helpers; false if
// name is none of them.
func runSyncHelper(name string, h semlock.Handle, arg string) (int, bool) {
	fail := func(format string, args ...any) int {
		fmt.Fprintf(os.Stderr, "helper %s: "+format+"\n", append([]any{name}, args...)...)
		return 2
	}
	ctx := context.Background()
	switch name {
	case "event-set": // set the event when told
		ev, err := semlock.AttachEvent(h)
		if err != nil {
			return fail("%v", err), true
		}
		fmt.Println("ready")
		bufio.NewReader(os.Stdin).ReadString('\n')
		if err := ev.Set(); err != nil {
			return fail("%v", err), true
		}
		fmt.Println("set")
	case "event-cancel": // a cancellable Wait, cancelled when stdin closes
		ev, err := semlock.AttachEvent(h)
		if err != nil {
			return fail("%v", err), true
		}
		ctx, cancel := context.WithCancel(ctx)
		go func() { io.Copy(io.Discard, os.Stdin); cancel() }()
		fmt.Println("waiting")
		fmt.Println(outcome(ev.Wait(ctx)))
	case "event-wait":
		ev, err := semlock.AttachEvent(h)
		if err != nil {
			return fail("%v", err), true
		}
		fmt.Println("waiting")
		fmt.Println(outcome(ev.Wait(ctx)))
	case "barrier-party":
		var a partyArg
		if err := json.Unmarshal([]byte(arg), &a); err != nil {
			return fail("arg: %v", err), true
		}
		var action func() error
		if a.Actions != nil {
			acts, err := semlock.Attach(*a.Actions)
			if err != nil {
				return fail("%v", err), true
			}
			action = acts.Release
		}
		b, err := semlock.AttachBarrier(h, action)
		if err != nil {
			return fail("%v", err), true
		}
		var b2 *semlock.Barrier
		if a.B2 != nil {
			if b2, err = semlock.AttachBarrier(*a.B2, nil); err != nil {
				return fail("%v", err), true
			}
		}
		if err := barrierParty(ctx, a, b, b2); err != nil {
			return fail("%v", err), true
		}
	case "cond-f", "cond-waitfor":
		var a condArg
		if err := json.Unmarshal([]byte(arg), &a); err != nil {
			return fail("arg: %v", err), true
		}
		m, err := semlock.Attach(h)
		if err != nil {
			return fail("%v", err), true
		}
		c, err := semlock.AttachCondition(a.Cond, m)
		if err != nil {
			return fail("%v", err), true
		}
		if name == "cond-waitfor" {
			if err := condWaitFor(ctx, c, a.File); err != nil {
				return fail("%v", err), true
			}
			return 0, true
		}
		sleeping, err := semlock.Attach(a.Sleeping)
		if err != nil {
			return fail("%v", err), true
		}
		woken, err := semlock.Attach(a.Woken)
		if err != nil {
			return fail("%v", err), true
		}
		if err := condF(ctx, c, sleeping, woken, a.Timeout); err != nil {
			return fail("%v", err), true
		}
	default:
		return 0, false
	}
	return 0, true
}

// barrierParty is one party of the CPython barrier tests; it prints its
// results, one line each (the tests' results lists).
func barrierParty(ctx context.Context, a partyArg, b, b2 *semlock.Barrier) error {
	switch a.Scenario {
	case "wait": // one Wait, reported
		fmt.Println("waiting")
		fmt.Println(barrierOutcome(b.Wait(ctx)))
	case "forever": // rounds until the barrier is removed (the benchmark)
		fmt.Println("ready")
		for {
			if _, err := b.Wait(ctx); err != nil {
				if errors.Is(err, semlock.ErrRemoved) {
					return nil
				}
				return err
			}
		}
	case "rounds": // _test_thousand_f: a line on fd 3 after each round
		var out *os.File
		if a.Pipe {
			out = os.NewFile(3, "rounds")
		}
		zeros := 0
		for i := range a.Rounds {
			idx, err := b.Wait(ctx)
			if err != nil {
				return fmt.Errorf("round %d: %w", i, err)
			}
			if idx == 0 {
				zeros++
			}
			if out != nil {
				fmt.Fprintf(out, "%d\n", i) // one write under PIPE_BUF: atomic
			}
		}
		fmt.Println("zeros", zeros)
	case "abort": // _test_abort_f
		i, err := b.Wait(ctx)
		if err == nil && i == a.N/2 {
			fmt.Println("aborted")
			return b.Abort()
		}
		if err == nil {
			_, err = b.Wait(ctx)
		}
		fmt.Println(resultOf(err))
	case "reset": // _test_reset_f
		i, err := b.Wait(ctx)
		if err != nil {
			return err
		}
		if i == a.N/2 {
			for {
				w, err := b.Waiting()
				if err != nil {
					return err
				}
				if w >= a.N-1 {
					break
				}
				time.Sleep(time.Millisecond)
			}
			if err := b.Reset(); err != nil {
				return err
			}
		} else {
			_, err := b.Wait(ctx)
			fmt.Println(resultOf(err))
		}
		if _, err := b.Wait(ctx); err != nil {
			return err
		}
		fmt.Println("r3")
	case "abort-reset": // _test_abort_and_reset_f
		i, err := b.Wait(ctx)
		if err == nil && i == a.N/2 {
			fmt.Println("aborted")
			b.Abort()
		} else {
			if err == nil {
				_, err = b.Wait(ctx)
			}
			fmt.Println(resultOf(err))
		}
		// Everyone has left b when b2 lets them on; the reset is done
		// before b2 lets them on again.
		i, err = b2.Wait(ctx)
		if err != nil {
			return err
		}
		if i == a.N/2 {
			if err := b.Reset(); err != nil {
				return err
			}
		}
		if _, err := b2.Wait(ctx); err != nil {
			return err
		}
		if _, err := b.Wait(ctx); err != nil {
			return err
		}
		fmt.Println("r3")
	case "timeout": // _test_timeout_f
		i, err := b.Wait(ctx)
		if err != nil {
			return err
		}
		if i == a.N/2 {
			time.Sleep(a.Late) // one party is late
		}
		tctx, cancel := context.WithTimeout(ctx, a.Timeout)
		defer cancel()
		_, err = b.Wait(tctx)
		fmt.Println(resultOf(err))
	default:
		return fmt.Errorf("unknown scenario %q", a.Scenario)
	}
	return nil
}

// resultOf is r1 for a Wait that passed, r2 for ErrBrokenBarrier.
func resultOf(err error) string {
	switch {
	case err == nil:
		return "r1"
	case errors.Is(err, semlock.ErrBrokenBarrier):
		return "r2"
	}
	return "error: " + err.Error()
}

// condF is CPython's _TestCondition.f: take the lock, say it sleeps,
// wait, say it woke, release.
func condF(ctx context.Context, c *semlock.Condition, sleeping, woken *semlock.SemLock, timeout time.Duration) error {
	m := c.Mutex()
	if err := m.Acquire(ctx); err != nil {
		return err
	}
	if err := sleeping.Release(); err != nil {
		return err
	}
	wctx := ctx
	if timeout > 0 {
		var cancel context.CancelFunc
		wctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	err := c.Wait(wctx)
	if err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	if err := woken.Release(); err != nil {
		return err
	}
	return m.Release()
}

// condWaitFor is CPython's _test_waitfor_f, the shared value in a file.
func condWaitFor(ctx context.Context, c *semlock.Condition, file string) error {
	m := c.Mutex()
	if err := m.Acquire(ctx); err != nil {
		return err
	}
	if err := writeState(file, 0); err != nil {
		return err
	}
	if err := c.Notify(1); err != nil {
		return err
	}
	if err := c.WaitFor(ctx, func() bool { return readState(file) == 4 }); err != nil {
		return err
	}
	if v := readState(file); v != 4 {
		return fmt.Errorf("state %d after WaitFor, want 4", v)
	}
	return m.Release()
}

func readState(file string) int {
	b, err := os.ReadFile(file)
	if err != nil {
		return -100
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return -100
	}
	return n
}

func writeState(file string, n int) error {
	return os.WriteFile(file, []byte(strconv.Itoa(n)), 0o600)
}
