package spawn

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/poolrun/poolrun/rebuild"
	"github.com/poolrun/poolrun/semlock"
)

// DefaultWaitDelay is the grace between SIGTERM and SIGKILL when
// Cmd.WaitDelay is 0.
const DefaultWaitDelay = 5 * time.Second

// HandshakeTimeout bounds how long Start waits for a re-exec'd worker to
// reach Dispatch.
var HandshakeTimeout = 30 * time.Second

// Cmd is a child process, like os/exec.Cmd: set the fields, then Start
// and Wait, or Run. The child runs in its own process group (its pgid is
// its pid), dies with this process (PDEATHSIG on Linux, a parent watch in
// re-exec'd workers elsewhere), and, in a process that called Dispatch,
// its group is registered with this process's tracker, which kills what
// is left of it if this process dies.
type Cmd struct {
	Path       string    // the program; Command resolves it with exec.LookPath
	Args       []string  // argv, Args[0] included
	Env        []string  // nil: this process's environment
	Dir        string    // "" : this process's directory
	Stdin      io.Reader // nil: /dev/null
	Stdout     io.Writer // nil: /dev/null
	Stderr     io.Writer // nil: forwarded to Logger if set, else /dev/null
	ExtraFiles []*os.File

	// Name is the child's name in logs and errors (default: the role, or
	// the base of Path).
	Name string
	// Locks are shared with the child through rebuild.EnvVar, added to
	// the handles already in Env (or this process's environment).
	Locks map[string]*semlock.SemLock
	// Logger, when Stderr is nil, receives the child's stderr line by
	// line under Name; hclog JSON lines keep their level.
	Logger hclog.Logger
	// WaitDelay is the grace between SIGTERM to the group and SIGKILL,
	// when ctx is done or on Stop (0: DefaultWaitDelay). After the child
	// exits, its stdio pipes are also closed after WaitDelay if a
	// grandchild still holds them.
	WaitDelay time.Duration
	// Foreground is for a child that must use this process's terminal:
	// read it, or change its modes (tcsetattr), as an editor, a shell or
	// ffmpeg does. A child in a process group that is not the terminal's
	// foreground group is stopped (SIGTTIN, SIGTTOU) when it does, and
	// waits forever. The child is still in its own process group (Stop
	// and the tracker work as ever), but when this process's stdin is
	// its controlling terminal and this process's group is the
	// terminal's foreground group, the child's group is made the
	// foreground group (tcsetpgrp on stdin, in the child before exec),
	// and once the child has exited this process's group is made the
	// foreground group again (with SIGTTOU blocked meanwhile). In any
	// other case Foreground does nothing. While the child has the
	// terminal, the keys that signal (Ctrl-C, Ctrl-\, Ctrl-Z) reach the
	// child's group, not this process, and this process must not read
	// the terminal. Give the terminal to one child at a time.
	Foreground bool

	Process      *os.Process      // set by Start
	ProcessState *os.ProcessState // set by Wait

	ctx     context.Context
	role    string
	lookErr error

	inner    *exec.Cmd
	logw     *lineLogger
	done     chan struct{} // closed once the child is reaped
	reapOnce sync.Once     // reap runs once: in Wait, in Stop's background, or in a failed Start
	waitErr  error
	waited   atomic.Bool
	ctxDone  atomic.Bool // ctx ended before the child did
	fg       bool        // the child was given the terminal: take it back after it exits
	stopOnce sync.Mutex  // one Stop at a time

	// mu orders signals to the group with the leader's reaping: a
	// signal is sent only while reaped is false, when the unreaped
	// leader (alive or a zombie) still holds the group id, which so
	// cannot name another group.
	mu       sync.Mutex
	stopping bool // Stop began: the group is killed when the leader exits
	reaped   bool // reap is about to reap the leader: no more signals
}

// Command returns a Cmd that runs the program name with args. If name
// has no path separator it is looked up in PATH. When ctx is done the
// child's group gets SIGTERM, then SIGKILL after WaitDelay. ctx must not
// be nil.
func Command(ctx context.Context, name string, args ...string) *Cmd {
	if ctx == nil {
		panic("spawn: nil Context")
	}
	c := &Cmd{Path: name, Args: append([]string{name}, args...), ctx: ctx}
	if !strings.Contains(name, "/") {
		if p, err := exec.LookPath(name); err != nil {
			c.lookErr = err
		} else {
			c.Path = p
		}
	}
	return c
}

// Worker returns a Cmd that re-execs this binary as role: in the child,
// Dispatch runs the role's main. On Linux it execs /proc/self/exe, the
// very image that runs, even if its file was replaced since; Path shows
// os.Executable's answer. Start returns once the
// child has reached Dispatch; a binary that does not call Dispatch, or a
// role it does not register, is an error, never a second run of main.
func Worker(ctx context.Context, role string, args ...string) *Cmd {
	if ctx == nil {
		panic("spawn: nil Context")
	}
	exe, err := os.Executable()
	c := &Cmd{Path: exe, Args: append([]string{os.Args[0]}, args...), ctx: ctx, role: role, Name: role}
	if err != nil {
		c.lookErr = fmt.Errorf("spawn: cannot find this binary to re-exec it: %w", err)
	}
	return c
}

func (c *Cmd) name() string {
	if c.Name != "" {
		return c.Name
	}
	if c.role != "" {
		return c.role
	}
	return filepath.Base(c.Path)
}

func (c *Cmd) waitDelay() time.Duration {
	if c.WaitDelay > 0 {
		return c.WaitDelay
	}
	return DefaultWaitDelay
}

// Start starts the child and returns without waiting for it to exit. For
// a Worker it returns once the child has reached Dispatch.
func (c *Cmd) Start() error {
	if c.inner != nil {
		return fmt.Errorf("spawn: %s: already started", c.name())
	}
	if c.lookErr != nil {
		return fmt.Errorf("spawn: %s: %w", c.name(), c.lookErr)
	}
	if c.ctx == nil {
		c.ctx = context.Background()
	}
	if err := c.ctx.Err(); err != nil {
		return err
	}
	if c.role != "" {
		if err := checkDispatch(); err != nil {
			return err
		}
	}
	env, err := c.environ()
	if err != nil {
		return err
	}
	path := c.Path
	if c.role != "" {
		path = selfExe(path)
	}
	inner := &exec.Cmd{Path: path, Args: c.Args, Env: env, Dir: c.Dir,
		Stdin: c.Stdin, Stdout: c.Stdout, Stderr: c.Stderr,
		ExtraFiles: c.ExtraFiles, WaitDelay: c.waitDelay(),
		SysProcAttr: sysProcAttr(true)}
	if len(inner.Args) == 0 {
		inner.Args = []string{c.Path}
	}
	if c.Stderr == nil && c.Logger != nil {
		c.logw = newLineLogger(c.Logger.Named(c.name()))
		inner.Stderr = c.logw
	}
	var syncR, syncW *os.File
	if c.role != "" {
		if syncR, syncW, err = os.Pipe(); err != nil {
			return fmt.Errorf("spawn: %s: %w", c.name(), err)
		}
		defer syncR.Close()
		inner.ExtraFiles = append(append([]*os.File(nil), c.ExtraFiles...), syncW)
		inner.Env = append(inner.Env,
			envRole+"="+c.role,
			envSync+"="+strconv.Itoa(2+len(inner.ExtraFiles)),
			envParent+"="+strconv.Itoa(os.Getpid()))
	}
	if c.Foreground && foregroundTTY() {
		// Go's fork makes the child's new group the foreground group
		// with its signals still blocked, so it raises no SIGTTOU.
		inner.SysProcAttr.Foreground, inner.SysProcAttr.Ctty = true, ttyFd
		c.fg = true
	}
	fork(func() { err = inner.Start() })
	if syncW != nil {
		syncW.Close()
	}
	if err != nil {
		if c.fg {
			takeForeground() // the child may have taken it before its exec failed
		}
		return fmt.Errorf("spawn: %s: %w", c.name(), err)
	}
	c.inner, c.Process = inner, inner.Process
	c.done = make(chan struct{})
	trackGroup(inner.Process.Pid)
	if c.ctx.Done() != nil {
		go func() {
			select {
			case <-c.ctx.Done():
				c.ctxDone.Store(true)
				c.Stop()
			case <-c.done:
			}
		}()
	}
	if syncR != nil {
		if line, err := c.handshake(syncR); err != nil || line != "ok" {
			c.kill()
			c.reapOnce.Do(c.reap)
			c.waited.Store(true)
			return c.handshakeErr(line, err)
		}
	}
	return nil
}

// environ is the child's environment: Env (or ours) without our marker
// variables, and with Locks merged into rebuild.EnvVar.
func (c *Cmd) environ() ([]string, error) {
	base := c.Env
	if base == nil {
		base = os.Environ()
	}
	if len(c.Locks) == 0 && !hasMarker(base) {
		// The usual case (a batch runner's job): nothing to drop or
		// add, so no copy. Clipped: Start's appends for a worker must
		// not write into the caller's spare capacity.
		return slices.Clip(base), nil
	}
	env := make([]string, 0, len(base)+4)
	inherited := ""
	for _, kv := range base {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case envRole, envSync, envParent:
			continue
		case rebuild.EnvVar:
			if len(c.Locks) > 0 {
				inherited = v
				continue
			}
		}
		env = append(env, kv)
	}
	if len(c.Locks) == 0 {
		return env, nil
	}
	hs := map[string]semlock.Handle{}
	if inherited != "" {
		if old, err := rebuild.Decode(inherited); err == nil {
			hs = old
		}
	}
	for name, l := range c.Locks {
		if l == nil {
			return nil, fmt.Errorf("spawn: %s: Locks[%q] is nil", c.name(), name)
		}
		hs[name] = l.Handle()
	}
	v, err := rebuild.Encode(hs)
	if err != nil {
		return nil, fmt.Errorf("spawn: %s: Locks: %w", c.name(), err)
	}
	return append(env, rebuild.EnvVar+"="+v), nil
}

// hasMarker reports whether env holds one of our marker variables (envRole,
// envSync and envParent share the prefix).
func hasMarker(env []string) bool {
	for _, kv := range env {
		if strings.HasPrefix(kv, "POOLRUN_SPAWN_") {
			return true
		}
	}
	return false
}

// handshake reads the line the child's Dispatch writes: "ok", or
// "error" and why.
func (c *Cmd) handshake(r *os.File) (string, error) {
	r.SetReadDeadline(time.Now().Add(HandshakeTimeout))
	line, err := bufio.NewReader(io.LimitReader(r, 4096)).ReadString('\n')
	return strings.TrimSpace(line), err
}

// handshakeErr explains a failed handshake, once the child is reaped.
func (c *Cmd) handshakeErr(line string, err error) error {
	if c.ctxDone.Load() {
		return fmt.Errorf("spawn: worker %q: %w", c.role, c.ctx.Err())
	}
	if msg, ok := strings.CutPrefix(line, "error "); ok {
		return fmt.Errorf("spawn: worker %q: %s", c.role, msg)
	}
	why := "it exited"
	if c.ProcessState != nil {
		why += ": " + c.ProcessState.String()
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		why = fmt.Sprintf("not within %v; killed", HandshakeTimeout)
	}
	return fmt.Errorf("spawn: worker %q: %s never reached spawn.Dispatch (%s): %w", c.role, c.Path, why, ErrNoDispatch)
}

// reap waits for the leader to exit, SIGKILLs what is left of its group
// if Stop began, then reaps it and closes done. It runs once, in the
// goroutine of whoever needs it first (Wait, Stop, a failed Start): the
// usual Start-Wait pair costs no goroutine and no wake-up beyond the
// wait itself, as with os/exec.
func (c *Cmd) reap() {
	pgid := c.inner.Process.Pid
	waitExit(pgid)
	c.mu.Lock()
	if c.stopping {
		// Stop ends the whole group: grandchildren that outlived the
		// leader (they ignore SIGTERM, or the leader did not wait for
		// them) get SIGKILL while the unreaped leader still holds the
		// group id.
		syscall.Kill(-pgid, syscall.SIGKILL)
	}
	c.reaped = true
	c.mu.Unlock()
	err := c.inner.Wait()
	c.ProcessState = c.inner.ProcessState
	if c.fg {
		takeForeground()
	}
	untrackGroup(pgid)
	if c.logw != nil {
		c.logw.Flush()
	}
	c.waitErr = err
	close(c.done)
}

// Wait waits for the child to exit (and its stdio to be copied) and
// returns its status like os/exec: nil, an *exec.ExitError, or an I/O
// error. If ctx ended first, the error also wraps ctx.Err(). As with
// os/exec, every started Cmd must be waited for: Wait reaps the child
// (until then an exited child stays a zombie, and its group stays
// registered with the tracker), unless Stop did.
func (c *Cmd) Wait() error {
	if c.inner == nil {
		return fmt.Errorf("spawn: %s: not started", c.name())
	}
	if c.waited.Swap(true) {
		return fmt.Errorf("spawn: %s: Wait was already called", c.name())
	}
	c.reapOnce.Do(c.reap)
	err := c.waitErr
	if c.ctxDone.Load() {
		if err == nil {
			return nil
		}
		return fmt.Errorf("%w: %w", c.ctx.Err(), err)
	}
	return err
}

// Run starts the child and waits for it.
func (c *Cmd) Run() error {
	if err := c.Start(); err != nil {
		return err
	}
	return c.Wait()
}

// Output runs the child and returns its standard output. If Stderr and
// Logger are nil, the start of the child's stderr is kept in the
// *exec.ExitError it may return, as os/exec does.
func (c *Cmd) Output() ([]byte, error) {
	if c.Stdout != nil {
		return nil, fmt.Errorf("spawn: %s: Stdout already set", c.name())
	}
	var b bytes.Buffer
	c.Stdout = &b
	var stderr *limitedBuffer
	if c.Stderr == nil && c.Logger == nil {
		stderr = &limitedBuffer{max: 32 << 10}
		c.Stderr = stderr
	}
	err := c.Run()
	var ee *exec.ExitError
	if stderr != nil && errors.As(err, &ee) {
		ee.Stderr = stderr.b.Bytes()
	}
	return b.Bytes(), err
}

// limitedBuffer keeps the first max bytes written to it.
type limitedBuffer struct {
	b   bytes.Buffer
	max int
}

func (w *limitedBuffer) Write(p []byte) (int, error) {
	if room := w.max - w.b.Len(); room > 0 {
		w.b.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

// Stop ends the child's process group: SIGTERM to the group, then
// SIGKILL to the group if the child has not exited after WaitDelay; once
// the child has exited, what is left of its group (grandchildren that
// ignore SIGTERM) gets SIGKILL too. It returns once the child has exited
// and been reaped. It is safe to call concurrently with Wait and with
// itself, and a no-op once the child has been reaped (Wait reaps it; a
// child that exited but was not reaped yet still holds its group id, so
// what is left of its group is still killed).
func (c *Cmd) Stop() error {
	if c.inner == nil {
		return fmt.Errorf("spawn: %s: not started", c.name())
	}
	c.stopOnce.Lock()
	defer c.stopOnce.Unlock()
	select {
	case <-c.done:
		return nil
	default:
	}
	if err := c.signalGroup(syscall.SIGTERM, true); err != nil {
		return fmt.Errorf("spawn: %s: stop: %w", c.name(), err)
	}
	go c.reapOnce.Do(c.reap) // unless Wait reaps already (then this returns with it)
	t := time.NewTimer(c.waitDelay())
	defer t.Stop()
	select {
	case <-c.done:
		return nil
	case <-t.C:
	}
	c.kill()
	<-c.done
	return nil
}

// kill sends SIGKILL to the child's group unless it was reaped.
func (c *Cmd) kill() { c.signalGroup(syscall.SIGKILL, false) }

// signalGroup sends sig to the child's group unless the leader has been
// (or is being) reaped; stop also marks the Cmd as stopping, so that
// reap SIGKILLs what is left of the group once the leader has exited (a
// leader that exited by itself before, and was seen to by reap, is left
// alone: Stop is then a no-op).
func (c *Cmd) signalGroup(sig syscall.Signal, stop bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.reaped {
		return nil
	}
	if stop {
		c.stopping = true
	}
	if err := syscall.Kill(-c.Process.Pid, sig); err != nil && err != syscall.ESRCH {
		return err
	}
	return nil
}

// Pgid returns the child's process group id (its pid), 0 before Start.
func (c *Cmd) Pgid() int {
	if c.Process == nil {
		return 0
	}
	return c.Process.Pid
}

// String returns the command line, for logs.
func (c *Cmd) String() string {
	return strings.Join(c.Args, " ")
}
