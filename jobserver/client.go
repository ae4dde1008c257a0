package jobserver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/poolrun/poolrun/slots"
)

// Client is a slots.Cap over the jobserver of the make (or cargo) this
// process runs under: its first slot is the implicit token every process
// of a jobserver has, never read or written; every further slot is one
// byte read from the jobserver, and its Release writes that same byte
// back. Nothing is read ahead: a byte is read when a slot is asked for.
//
// Reads race: every client of the jobserver waits on the same pipe, and
// only one gets each byte. The Client reads from a descriptor of its
// own (the fifo opened anew, or the inherited pipe reopened through
// /proc/self/fd) made non-blocking, and after poll says it is readable it
// reads without waiting, polling again on EAGAIN. The inherited
// descriptors' own flags are left alone: they belong to an open file
// description every other client shares, and a blocking client there
// (make 4.2) would break if it became non-blocking. (The alternative, a
// blocking read in a goroutine that is abandoned on cancel, can swallow a
// token after the cancel: the byte is read by nobody who will give it
// back.)
//
// A Client whose process is SIGKILLed cannot give its tokens back: make's
// protocol has no way to know. Make then runs with fewer tokens until it
// exits.
type Client struct {
	auth Auth
	fd   int // our own non-blocking description
	size int

	mu       sync.Mutex
	implicit bool            // the implicit token is in use
	waiters  map[*waker]bool // Acquires reading a token, woken when the implicit token comes free
	held     []byte          // bytes read and not yet written back
	closed   bool
}

// ErrNoJobserver is what ClientFromEnv returns when the environment names
// no jobserver.
var ErrNoJobserver = errors.New("jobserver: no jobserver in the environment (CARGO_MAKEFLAGS, MAKEFLAGS, MFLAGS)")

// ClientFromEnv connects to the jobserver env names (nil: this process's
// environment). It returns ErrNoJobserver if it names none, and an error
// that says what is wrong if it names one that cannot be used (a
// disabled one, descriptors that are closed or not a pipe, a fifo path
// that does not exist or is not a fifo). In pipe style the inherited
// descriptors are made close-on-exec, so that processes this one starts
// do not inherit them.
func ClientFromEnv(env []string) (*Client, error) {
	if env == nil {
		env = os.Environ()
	}
	a, name, err := Lookup(env)
	if err != nil {
		return nil, &envError{name: name, err: err}
	}
	if a.Style == Off {
		return nil, ErrNoJobserver
	}
	c, err := Dial(a)
	if err != nil {
		hint := ""
		if a.Style == Pipe {
			// make 4.3 names its pipe to every recipe but hands the
			// descriptors only to the recursive ones.
			hint = " (make hands its jobserver only to recursive recipes: prefix the recipe with +)"
		}
		return nil, fmt.Errorf("jobserver: %s names %s: %w%s", name, a.Word, err, hint)
	}
	return c, nil
}

// Dial connects to the jobserver a names. The Client's Size is a.Jobs,
// or the number of CPUs if make did not say.
func Dial(a Auth) (*Client, error) {
	c := &Client{auth: a, size: a.Jobs}
	if c.size <= 0 {
		c.size = runtime.NumCPU()
	}
	switch a.Style {
	case Pipe:
		if err := checkPipe(a.R, a.W); err != nil {
			return nil, err
		}
		fd, err := reopen(a.R)
		if err != nil {
			return nil, err
		}
		c.fd = fd
		closeOnExec(a.R)
		closeOnExec(a.W)
	case Fifo:
		fd, err := openFifo(a.Path)
		if err != nil {
			return nil, fmt.Errorf("fifo %s: %w", a.Path, err)
		}
		c.fd = fd
	default:
		return nil, ErrNoJobserver
	}
	return c, nil
}

// Auth is what the Client was connected with.
func (c *Client) Auth() Auth { return c.auth }

// Acquire takes the implicit token if it is free, else reads a token,
// waiting until one comes or ctx is done. While it waits, the implicit
// token coming free (a slot of this Client released) ends the wait, and
// Acquire takes that instead: else a batch whose dispatcher waits here
// with the last input would wait for ever for a token make has lent to
// other recipes, while its own implicit token is free.
func (c *Client) Acquire(ctx context.Context) (slots.Slot, error) {
	if s, ok := c.takeImplicit(); ok {
		return s, nil
	}
	if s, ok, err := c.TryAcquire(); ok || err != nil {
		return s, err // a token there now: no waker to make
	}
	w, err := newWaker()
	if err != nil {
		return nil, fmt.Errorf("jobserver: %w", err)
	}
	defer w.close()
	for {
		s, ok, err := c.takeImplicitOrWait(w)
		if ok || err != nil {
			return s, err
		}
		b, woken, err := readToken(ctx, c.fd, w)
		c.mu.Lock()
		delete(c.waiters, w)
		c.mu.Unlock()
		switch {
		case woken:
			w.reset()
			continue
		case err != nil && ctx.Err() != nil:
			return nil, fmt.Errorf("jobserver: waiting for a token: %w", ctx.Err())
		case err != nil:
			return nil, fmt.Errorf("jobserver: reading a token: %w", err)
		}
		return c.got(b), nil
	}
}

// takeImplicitOrWait takes the implicit token if it is free, else
// registers w to be woken when it comes free.
func (c *Client) takeImplicitOrWait(w *waker) (slots.Slot, bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.closed:
		return nil, false, errors.New("jobserver: the client is closed")
	case !c.implicit:
		c.implicit = true
		return &implicitSlot{c: c}, true, nil
	}
	if c.waiters == nil {
		c.waiters = map[*waker]bool{}
	}
	c.waiters[w] = true
	return nil, false, nil
}

// TryAcquire takes the implicit token if it is free, else reads a token
// if one is there now.
func (c *Client) TryAcquire() (slots.Slot, bool, error) {
	if s, ok := c.takeImplicit(); ok {
		return s, true, nil
	}
	if err := c.live(); err != nil {
		return nil, false, err
	}
	b, ok, err := readByte(c.fd)
	if err != nil {
		return nil, false, fmt.Errorf("jobserver: reading a token: %w", err)
	}
	if !ok {
		return nil, false, nil
	}
	return c.got(b), true, nil
}

func (c *Client) live() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return errors.New("jobserver: the client is closed")
	}
	return nil
}

func (c *Client) takeImplicit() (slots.Slot, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.implicit || c.closed {
		return nil, false
	}
	c.implicit = true
	return &implicitSlot{c: c}, true
}

// got counts a byte read; a Client closed meanwhile writes it back.
func (c *Client) got(b byte) slots.Slot {
	c.mu.Lock()
	c.held = append(c.held, b)
	c.mu.Unlock()
	return &tokenSlot{c: c, b: b}
}

// Size is make's -j if it said, else the number of CPUs.
func (c *Client) Size() int { return c.size }

// Share gives the processes started on the Client's slots nothing of
// the Client: they get a jobserver of their own (Server). It blanks
// slots.HeldEnv, so that a process there that also inherited a poolrun
// cap (poolrun → make → poolrun) does not take the outer job's unit for
// free: make already runs on that one.
func (c *Client) Share() (slots.Share, error) { return noShare{}, nil }

// Close lets go of the jobserver. Slots should be released before; a
// token still held is written back all the same (a jobserver's tokens
// must never be lost).
func (c *Client) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	c.closed = true
	var err error
	for _, b := range c.held {
		err = errors.Join(err, writeByte(c.fd, b))
	}
	c.held = nil
	return errors.Join(err, unix.Close(c.fd))
}

type implicitSlot struct {
	c    *Client
	once sync.Once
}

func (s *implicitSlot) Release() error {
	s.once.Do(func() {
		s.c.mu.Lock()
		s.c.implicit = false
		for w := range s.c.waiters {
			w.wake()
		}
		s.c.mu.Unlock()
	})
	return nil
}

type tokenSlot struct {
	c    *Client
	b    byte
	once sync.Once
}

// Release writes the byte read back, exactly once.
func (s *tokenSlot) Release() error {
	var err error
	s.once.Do(func() {
		s.c.mu.Lock()
		defer s.c.mu.Unlock()
		if s.c.closed {
			return // Close wrote it back
		}
		if i := bytes.IndexByte(s.c.held, s.b); i >= 0 {
			s.c.held = append(s.c.held[:i], s.c.held[i+1:]...)
		}
		if werr := writeByte(s.c.fd, s.b); werr != nil {
			err = fmt.Errorf("jobserver: giving a token back: %w", werr)
		}
	})
	return err
}

type noShare struct{}

func (noShare) Env() []string { return []string{slots.HeldEnv + "="} }
func (noShare) Close() error  { return nil }

// envError is a jobserver variable that cannot be read: "jobserver:
// MAKEFLAGS: what is wrong".
type envError struct {
	name string
	err  error
}

func (e *envError) Error() string {
	return "jobserver: " + e.name + ": " + strings.TrimPrefix(e.err.Error(), "jobserver: ")
}

func (e *envError) Unwrap() error { return e.err }

// AcquireToken reads one token from the jobserver, never the implicit
// one, waiting until one comes or ctx is done: for a process that hands
// work on to another that outlives the call — GNU sem's background
// command, which runs while the recipe that started it goes on on its
// implicit token. The token is the caller's: the Client does not count
// it, and Close does not write it back. Give it back with GiveBack, or by
// writing the byte to the jobserver from the process it was handed to.
func (c *Client) AcquireToken(ctx context.Context) (byte, error) {
	if err := c.live(); err != nil {
		return 0, err
	}
	if b, ok, err := readByte(c.fd); ok || err != nil {
		if err != nil {
			return 0, fmt.Errorf("jobserver: reading a token: %w", err)
		}
		return b, nil
	}
	w, err := newWaker()
	if err != nil {
		return 0, fmt.Errorf("jobserver: %w", err)
	}
	defer w.close()
	for {
		b, woken, err := readToken(ctx, c.fd, w)
		switch {
		case woken:
			w.reset() // nobody else wakes this waker: a spurious one
			continue
		case err != nil && ctx.Err() != nil:
			return 0, fmt.Errorf("jobserver: waiting for a token: %w", ctx.Err())
		case err != nil:
			return 0, fmt.Errorf("jobserver: reading a token: %w", err)
		}
		return b, nil
	}
}

// GiveBack writes b, a token AcquireToken read, back to the jobserver.
func (c *Client) GiveBack(b byte) error {
	if err := c.live(); err != nil {
		return err
	}
	if err := writeByte(c.fd, b); err != nil {
		return fmt.Errorf("jobserver: giving a token back: %w", err)
	}
	return nil
}
