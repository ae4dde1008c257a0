package remotecap

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/poolrun/poolrun/slots"
)

// chanCap is a cap of n slots in one process, for the helper to serve.
type chanCap struct{ ch chan struct{} }

func (c *chanCap) Acquire(ctx context.Context) (slots.Slot, error) {
	select {
	case c.ch <- struct{}{}:
		return chanSlot{c}, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (c *chanCap) TryAcquire() (slots.Slot, bool, error) {
	select {
	case c.ch <- struct{}{}:
		return chanSlot{c}, true, nil
	default:
		return nil, false, nil
	}
}
func (c *chanCap) Size() int                   { return cap(c.ch) }
func (c *chanCap) Share() (slots.Share, error) { return envShare{"X=1"}, nil }
func (c *chanCap) Close() error                { return nil }

type chanSlot struct{ c *chanCap }

func (s chanSlot) Release() error { <-s.c.ch; return nil }

type envShare []string

func (s envShare) Env() []string { return s }
func (s envShare) Close() error  { return nil }

func TestMain(m *testing.M) {
	switch os.Getenv("REMOTECAP_HELPER") {
	case "serve":
		// Writes how many slots it still held at the end to stderr-free
		// file REMOTECAP_OUT, to show Serve gave them back.
		c := &chanCap{ch: make(chan struct{}, 2)}
		Serve(os.Stdin, os.Stdout, c)
		os.WriteFile(os.Getenv("REMOTECAP_OUT"), []byte(fmt.Sprint(len(c.ch))), 0o644)
		os.Exit(0)
	case "fail":
		Failed(os.Stdout, errors.New("no such cluster"))
		os.Exit(1)
	}
	os.Exit(m.Run())
}

func start(t *testing.T, mode string) (*Cap, string) {
	t.Helper()
	out := t.TempDir() + "/out"
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "REMOTECAP_HELPER="+mode, "REMOTECAP_OUT="+out)
	cmd.Stderr = os.Stderr
	c, err := Start(cmd, "test://cap", time.Minute)
	if err != nil {
		return nil, err.Error()
	}
	return c, out
}

func TestServe(t *testing.T) {
	c, out := start(t, "serve")
	if c == nil {
		t.Fatal(out)
	}
	if c.Size() != 2 {
		t.Errorf("Size %d, want 2", c.Size())
	}
	a, err := c.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	b, ok, err := c.TryAcquire()
	if !ok || err != nil {
		t.Fatalf("TryAcquire: %v %v", ok, err)
	}
	if _, ok, _ := c.TryAcquire(); ok {
		t.Error("a third slot of 2")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.Acquire(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Acquire with a done ctx: %v", err)
	}
	if err := a.Release(); err != nil {
		t.Error(err)
	}
	sh, err := c.Share()
	if err != nil || strings.Join(sh.Env(), " ") != "X=1" {
		t.Errorf("Share: %v %v", sh, err)
	}
	sh.Close()
	// b is still held when the cap closes: the helper gives it back.
	_ = b
	if err := c.Close(); err != nil {
		t.Error(err)
	}
	if got, _ := os.ReadFile(out); string(got) != "0" {
		t.Errorf("the helper held %q slots at its end, want 0", got)
	}
}

func TestFailed(t *testing.T) {
	c, msg := start(t, "fail")
	if c != nil || msg != "no such cluster" {
		t.Errorf("Start of a failing helper: %v %q", c, msg)
	}
}

// TestHelperKilled: the helper's death is the loss of the cap.
func TestHelperKilled(t *testing.T) {
	c, out := start(t, "serve")
	if c == nil {
		t.Fatal(out)
	}
	s, err := c.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	c.cmd.Process.Signal(syscall.SIGKILL)
	<-c.Lost()
	if !errors.Is(c.Err(), ErrLost) {
		t.Errorf("Err %v", c.Err())
	}
	if _, err := c.Acquire(context.Background()); !errors.Is(err, ErrLost) {
		t.Errorf("Acquire after the loss: %v", err)
	}
	s.Release()
	c.Close()
}

// FuzzServe: whatever lines reach a helper, Serve answers or ignores
// them, never panics, and gives back every slot at the end.
func FuzzServe(f *testing.F) {
	for _, s := range []string{
		`{"op":"acquire","id":1}` + "\n" + `{"op":"release","id":2,"slot":1}`,
		`{"op":"try","id":1}` + "\n" + `{"op":"try","id":2}` + "\n" + `{"op":"try","id":3}`,
		`{"op":"share","id":1}` + "\n" + `{"op":"unshare","id":2,"share":1}`,
		`{"op":"release","id":1,"slot":7}`, `{"op":"nope"}`, "not json\n{", `{"op":"cancel","id":9}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		c := &chanCap{ch: make(chan struct{}, 2)}
		// Acquire waits for a free slot: a fuzzed input that takes both
		// and asks for a third would wait for ever, so only Try is served.
		var lines []string
		for _, l := range strings.Split(in, "\n") {
			if !strings.Contains(l, "acquire") {
				lines = append(lines, l)
			}
		}
		var out strings.Builder
		if err := Serve(strings.NewReader(strings.Join(lines, "\n")), &out, c); err != nil && !strings.Contains(err.Error(), "too long") {
			t.Fatal(err)
		}
		if len(c.ch) != 0 {
			t.Errorf("%d slots still held after Serve", len(c.ch))
		}
	})
}

// TestAttach: a cap served in this process over two pipes, as a pool
// serves its parent's caps to its workers: slots come and go, and when
// the client closes its end, Serve gives back what it still held.
func TestAttach(t *testing.T) {
	reqR, reqW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	ansR, ansW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	c := &chanCap{ch: make(chan struct{}, 2)}
	served := make(chan error, 1)
	go func() { served <- Serve(reqR, ansW, c); ansW.Close() }()
	rc, err := Attach(ansR, reqW, "test", 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if rc.Size() != 2 {
		t.Errorf("Size %d, want 2", rc.Size())
	}
	s1, err := rc.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rc.Acquire(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := rc.TryAcquire(); ok || err != nil {
		t.Fatalf("TryAcquire on a full cap: %v %v, want none", ok, err)
	}
	if err := s1.Release(); err != nil {
		t.Fatal(err)
	}
	if len(c.ch) != 1 {
		t.Fatalf("after a release the server holds %d, want 1", len(c.ch))
	}
	if err := rc.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-served; err != nil {
		t.Fatal(err)
	}
	if len(c.ch) != 0 {
		t.Errorf("after the client went, the server still holds %d slots", len(c.ch))
	}
	select {
	case <-rc.Lost():
		t.Error("a closed client says its cap is lost")
	default:
	}
}

// TestAttachServerGone: when the serving end goes, the attached cap is
// lost, and says why.
func TestAttachServerGone(t *testing.T) {
	reqR, reqW, _ := os.Pipe()
	ansR, ansW, _ := os.Pipe()
	go func() {
		Ready(ansW, 1)
		reqR.Close()
		ansW.Close()
	}()
	rc, err := Attach(ansR, reqW, "test", 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	<-rc.Lost()
	if !errors.Is(rc.Err(), ErrLost) || !strings.Contains(rc.Err().Error(), "served it has ended") {
		t.Errorf("Err %v", rc.Err())
	}
	if _, err := rc.Acquire(context.Background()); !errors.Is(err, ErrLost) {
		t.Errorf("Acquire on a lost cap: %v", err)
	}
	rc.Close()
}
