package remotecap

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"sync"
	"time"

	"github.com/poolrun/poolrun/slots"
)

// ErrLost is what Err wraps once the helper has said its cap's slots are
// lost, or has gone.
var ErrLost = errors.New("remotecap: the cap is lost")

// Cap is the cap a helper process serves (Start), or a process that
// started this one (Attach).
type Cap struct {
	name string    // for messages: the cap's URL
	cmd  *exec.Cmd // nil if attached
	gone string    // why Lost is closed if the other end goes
	in   io.WriteCloser
	size int

	wmu sync.Mutex // serialises writes to in
	enc *json.Encoder

	mu      sync.Mutex
	next    uint64
	waits   map[uint64]chan msg
	lost    chan struct{}
	lostErr error
	exited  chan struct{}
	closed  bool
}

var _ slots.Cap = (*Cap)(nil)

// Start starts cmd, the helper serving the cap name, and waits for it to
// say it is ready (at most wait). Its standard input and output must be
// unset: they are the protocol's; its standard error is left as set.
func Start(cmd *exec.Cmd, name string, wait time.Duration) (*Cap, error) {
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("remotecap: %w", err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("remotecap: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("remotecap: starting %s: %w", cmd.Path, err)
	}
	c, err := attach(out, in, name, cmd.Path, "the helper process has ended", wait)
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		return nil, err
	}
	c.cmd = cmd
	go func() {
		cmd.Wait()
		close(c.exited)
	}()
	return c, nil
}

// Attach is the cap served at the other end of r and w by a process that
// is already running (Serve in a parent, for the workers it started):
// it waits, at most wait, for the server to say it is ready. Close
// closes w, which ends the server's Serve; the server keeps running.
func Attach(r io.Reader, w io.WriteCloser, name string, wait time.Duration) (*Cap, error) {
	c, err := attach(r, w, name, "the cap's server", "the process that served it has ended", wait)
	if err != nil {
		return nil, err
	}
	close(c.exited)
	return c, nil
}

// attach reads the server's first line and then hands the answers to
// their callers. who names the server in messages; gone is why the cap
// is lost if the server's output ends.
func attach(out io.Reader, in io.WriteCloser, name, who, gone string, wait time.Duration) (*Cap, error) {
	c := &Cap{name: name, gone: gone, in: in, enc: json.NewEncoder(in), waits: map[uint64]chan msg{}, lost: make(chan struct{}), exited: make(chan struct{})}
	r := bufio.NewReader(out)
	first := make(chan msg, 1)
	go func() {
		var m msg
		line, err := r.ReadBytes('\n')
		if err == nil {
			err = json.Unmarshal(line, &m)
		}
		if err != nil {
			m.Err = fmt.Sprintf("%s ended before it was ready", who)
		}
		first <- m
		if m.Ready > 0 {
			c.read(r)
		}
	}()
	var m msg
	select {
	case m = <-first:
	case <-time.After(wait):
		m.Err = fmt.Sprintf("%s not ready after %v", who, wait)
	}
	if m.Ready < 1 {
		in.Close()
		if m.Err == "" {
			m.Err = "the helper said neither ready nor why"
		}
		return nil, errors.New(m.Err)
	}
	c.size = m.Ready
	return c, nil
}

// read hands each answer to its caller, until the helper's output ends.
func (c *Cap) read(r *bufio.Reader) {
	for {
		line, err := r.ReadBytes('\n')
		if err != nil {
			c.mu.Lock()
			closed := c.closed
			c.mu.Unlock()
			if !closed { // after Close, the end is expected
				c.lose(c.gone)
			} else {
				c.failWaits(ErrClosed)
			}
			return
		}
		var m msg
		if json.Unmarshal(line, &m) != nil {
			continue
		}
		if m.Lost != "" {
			c.lose(m.Lost)
			continue
		}
		c.mu.Lock()
		ch := c.waits[m.ID]
		delete(c.waits, m.ID)
		c.mu.Unlock()
		if ch != nil {
			ch <- m
		}
	}
}

// ErrClosed is what a call on a closed Cap returns.
var ErrClosed = errors.New("remotecap: the cap is closed")

// failWaits answers every call still waiting with err.
func (c *Cap) failWaits(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for id, ch := range c.waits {
		ch <- msg{ID: id, Err: err.Error()}
		delete(c.waits, id)
	}
}

func (c *Cap) lose(why string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.lostErr != nil {
		return
	}
	c.lostErr = fmt.Errorf("%w: %s: %s", ErrLost, c.name, why)
	close(c.lost)
	for id, ch := range c.waits {
		ch <- msg{ID: id, Err: c.lostErr.Error()}
		delete(c.waits, id)
	}
}

// Lost is closed when the helper says the cap's slots are lost (an etcd
// lease that could not be renewed) or the helper has gone: whatever runs
// on this cap's slots must stop. Err says why.
func (c *Cap) Lost() <-chan struct{} { return c.lost }

// Err is why Lost is closed, or nil.
func (c *Cap) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lostErr
}

// call sends m and returns the channel its answer comes on.
func (c *Cap) call(m msg) (uint64, chan msg, error) {
	ch := make(chan msg, 1)
	c.mu.Lock()
	if c.lostErr != nil {
		c.mu.Unlock()
		return 0, nil, c.lostErr
	}
	if c.closed {
		c.mu.Unlock()
		return 0, nil, ErrClosed
	}
	c.next++
	m.ID = c.next
	c.waits[m.ID] = ch
	c.mu.Unlock()
	if err := c.send(m); err != nil {
		c.mu.Lock()
		delete(c.waits, m.ID)
		closed := c.closed
		c.mu.Unlock()
		if closed {
			return 0, nil, ErrClosed
		}
		c.lose(c.gone)
		return 0, nil, c.Err()
	}
	return m.ID, ch, nil
}

func (c *Cap) send(m msg) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.enc.Encode(m)
}

func (c *Cap) answer(ch chan msg) (msg, error) {
	m := <-ch
	if m.Err != "" {
		if c.Err() != nil {
			return m, c.Err()
		}
		if m.Err == ErrClosed.Error() {
			return m, ErrClosed
		}
		return m, errors.New(m.Err)
	}
	return m, nil
}

// Size is the cap's size, as the helper said.
func (c *Cap) Size() int { return c.size }

// Acquire asks the helper for a slot, waiting until it has one or ctx is
// done; then the wait is cancelled, and a slot the helper got meanwhile
// given back.
func (c *Cap) Acquire(ctx context.Context) (slots.Slot, error) {
	id, ch, err := c.call(msg{Op: "acquire"})
	if err != nil {
		return nil, err
	}
	select {
	case m := <-ch:
		ch <- m
	case <-ctx.Done():
		c.send(msg{Op: "cancel", ID: id})
		if m, err := c.answer(ch); err == nil {
			(&slot{c: c, id: m.Slot}).Release()
		}
		return nil, fmt.Errorf("remotecap: waiting for a slot of %s: %w", c.name, ctx.Err())
	}
	m, err := c.answer(ch)
	if err != nil {
		return nil, err
	}
	return &slot{c: c, id: m.Slot}, nil
}

// TryAcquire asks the helper for a slot free now.
func (c *Cap) TryAcquire() (slots.Slot, bool, error) {
	_, ch, err := c.call(msg{Op: "try"})
	if err != nil {
		return nil, false, err
	}
	m, err := c.answer(ch)
	if err != nil || m.None {
		return nil, false, err
	}
	return &slot{c: c, id: m.Slot}, true, nil
}

type slot struct {
	c  *Cap
	id uint64
}

func (s *slot) Release() error {
	_, ch, err := s.c.call(msg{Op: "release", Slot: s.id})
	if err != nil {
		if errors.Is(err, ErrLost) || errors.Is(err, ErrClosed) {
			return nil // nothing to give back: the server let go of it
		}
		return err
	}
	_, err = s.c.answer(ch)
	if errors.Is(err, ErrLost) || errors.Is(err, ErrClosed) {
		return nil
	}
	return err
}

// Share asks the helper for a Share's environment.
func (c *Cap) Share() (slots.Share, error) {
	_, ch, err := c.call(msg{Op: "share"})
	if err != nil {
		return nil, err
	}
	m, err := c.answer(ch)
	if err != nil {
		return nil, err
	}
	return &share{c: c, id: m.Share, env: m.Env}, nil
}

type share struct {
	c   *Cap
	id  uint64
	env []string
}

func (s *share) Env() []string { return s.env }

func (s *share) Close() error {
	_, ch, err := s.c.call(msg{Op: "unshare", Share: s.id})
	if err != nil {
		if errors.Is(err, ErrLost) || errors.Is(err, ErrClosed) {
			return nil
		}
		return err
	}
	_, err = s.c.answer(ch)
	if errors.Is(err, ErrLost) || errors.Is(err, ErrClosed) {
		return nil
	}
	return err
}

// closeWait bounds how long Close waits for the helper to let go.
const closeWait = 15 * time.Second

// Close ends the helper's input: it lets go of the cap (an etcd lease is
// revoked) and exits. Close waits for that, at most closeWait, then kills
// it.
func (c *Cap) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	c.mu.Unlock()
	c.in.Close()
	if c.cmd == nil { // Attach: the server is not ours to wait for
		return nil
	}
	select {
	case <-c.exited:
	case <-time.After(closeWait):
		c.cmd.Process.Kill()
		<-c.exited
		return fmt.Errorf("remotecap: %s: the helper did not exit %v after its input ended: killed", c.name, closeWait)
	}
	if st := c.cmd.ProcessState; st != nil && !st.Success() {
		return fmt.Errorf("remotecap: %s: the helper %v", c.name, st)
	}
	return nil
}
