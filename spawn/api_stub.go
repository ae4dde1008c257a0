package spawn

import (
	"context"
	"errors"
	"io"
	"os"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/poolrun/poolrun/semlock"
)

// ErrNotImplemented is returned by parts not written yet.
var ErrNotImplemented = errors.New("spawn: not implemented yet")

// Register names a role that Dispatch runs when this binary is re-exec'd
// as that role (see Worker). Call it before Dispatch; a duplicate or empty
// role panics (a programmer error).
func Register(role string, main func(ctx context.Context) error) {}

// Dispatch runs the role this process was started as, then exits; in a
// normal process it returns at once. Call it first thing in main (and in
// TestMain).
func Dispatch() {}

// Role returns the role this process runs as, "" in a normal process.
func Role() string { return "" }

// Cmd is a child process to start, like os/exec.Cmd.
type Cmd struct {
	Path       string
	Args       []string
	Env        []string
	Dir        string
	Stdin      io.Reader
	Stdout     io.Writer
	Stderr     io.Writer
	ExtraFiles []*os.File

	Name      string
	Locks     map[string]*semlock.SemLock
	Logger    hclog.Logger
	WaitDelay time.Duration

	Process      *os.Process
	ProcessState *os.ProcessState
}

// Command returns a Cmd that runs name with args.
func Command(ctx context.Context, name string, args ...string) *Cmd {
	return &Cmd{Path: name, Args: append([]string{name}, args...)}
}

// Worker returns a Cmd that re-execs this binary as role.
func Worker(ctx context.Context, role string, args ...string) *Cmd {
	return &Cmd{Path: os.Args[0], Args: append([]string{os.Args[0]}, args...), Name: role}
}

// Start starts the command.
func (c *Cmd) Start() error { return ErrNotImplemented }

// Wait waits for the command to exit.
func (c *Cmd) Wait() error { return ErrNotImplemented }

// Run starts the command and waits for it.
func (c *Cmd) Run() error { return ErrNotImplemented }

// Output runs the command and returns its standard output.
func (c *Cmd) Output() ([]byte, error) { return nil, ErrNotImplemented }

// Stop sends SIGTERM to the group, waits up to WaitDelay, then SIGKILL.
func (c *Cmd) Stop() error { return ErrNotImplemented }

// Pgid returns the child's process group id (its pid), 0 before Start.
func (c *Cmd) Pgid() int { return 0 }

// Track registers a private set with this process's tracker.
func Track(s *semlock.SemLock) error { return ErrNotImplemented }

// Untrack unregisters a set.
func Untrack(s *semlock.SemLock) error { return ErrNotImplemented }

// NewTracked is semlock.New followed by Track.
func NewTracked(kind semlock.Kind, value, max int, opts ...semlock.Option) (*semlock.SemLock, error) {
	return nil, ErrNotImplemented
}

// RemoveTracked is Untrack followed by Remove.
func RemoveTracked(s *semlock.SemLock) error { return ErrNotImplemented }

// Sweep removes this user's private sets whose creator is gone.
func Sweep() ([]semlock.Info, error) { return nil, ErrNotImplemented }
