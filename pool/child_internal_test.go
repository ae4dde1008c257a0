package pool

import (
	"context"
	"errors"
	"os"
	"sync/atomic"
	"testing"
	"time"
)

// holdHooks drive the task "internal-hold" in this process: it says it
// started (its input) and returns its input when released, whatever its
// ctx says. Only the in-process tests below run it.
type holdHooks struct {
	started chan string
	release chan struct{}
}

var hold atomic.Pointer[holdHooks]

func init() {
	Register("internal-hold", func(ctx context.Context, in []byte) ([]byte, error) {
		h := hold.Load()
		h.started <- string(in)
		<-h.release
		return in, nil
	})
}

// TestChildCancelAndHalt drives a worker's loop in this process over
// real pipes: a cancelled task given ahead is answered at once while
// another runs; a halt for a task that has ended is ignored; a halt for
// the cancelled task it still runs is acknowledged, and no other task
// starts after it.
func TestChildCancelAndHalt(t *testing.T) {
	h := &holdHooks{started: make(chan string, 8), release: make(chan struct{})}
	hold.Store(h)
	inR, inW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer outR.Close()
	c := &child{out: outW, more: make(chan struct{}, 1)}
	base := context.WithValue(context.Background(), childKey{}, c)
	go c.read(inR, outW)
	served := make(chan error, 1)
	go func() { served <- c.serve(context.Background(), base) }()
	defer inW.Close() // the reader sees EOF, ending serve if it still runs

	frames := make(chan frame, 16)
	go func() {
		fr := newFrameReader(outR)
		for {
			f, err := fr.next()
			if err != nil {
				close(frames)
				return
			}
			frames <- f
		}
	}()
	send := func(b []byte) {
		if _, err := inW.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	expect := func(what string, typ byte, id uint64) frame {
		t.Helper()
		select {
		case f, ok := <-frames:
			if !ok || f.typ != typ || f.id != id {
				t.Fatalf("%s: got frame %d #%d (ok %v), want %d #%d", what, f.typ, f.id, ok, typ, id)
			}
			return f
		case <-time.After(20 * time.Second):
			t.Fatalf("%s: no frame", what)
		}
		return frame{}
	}
	started := func(want string) {
		t.Helper()
		select {
		case s := <-h.started:
			if s != want {
				t.Fatalf("task %q started, want %q", s, want)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("task %q did not start", want)
		}
	}

	send(appendTask(nil, 1, 0, 0, "internal-hold", []byte("a")))
	started("a")
	h.release <- struct{}{}
	expect("task 1's result", fOK, 1)
	send(appendHeader(nil, fHalt, 1, 0)) // task 1 has ended: ignored

	send(appendTask(nil, 2, 0, 0, "internal-hold", []byte("b")))
	started("b")
	send(appendTask(nil, 3, 0, 0, "internal-hold", []byte("c")))
	send(appendTask(nil, 4, 0, 0, "internal-hold", []byte("d")))
	send(appendHeader(nil, fCancel, 4, 0))
	f := expect("cancelled task 4, given ahead, answered while 2 runs", fErr, 4)
	if e, err := parseErr(f.body); err != nil || e.kind != kCanceled {
		t.Fatalf("task 4's answer: %+v, %v", e, err)
	}
	send(appendHeader(nil, fCancel, 2, 0)) // task 2 ignores its ctx
	send(appendHeader(nil, fHalt, 2, 0))
	expect("halt acknowledged while task 2 runs", fHalted, 2)
	h.release <- struct{}{}
	expect("task 2's result", fOK, 2)
	select {
	case err := <-served:
		if !errors.Is(err, errHalted) {
			t.Fatalf("halted worker's loop ended with %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("halted worker's loop still runs")
	}
	select {
	case s := <-h.started:
		t.Fatalf("task %q started after the halt", s)
	default:
	}
}
