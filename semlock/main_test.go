package semlock_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/poolrun/poolrun/internal/leakcheck"
	"github.com/poolrun/poolrun/semlock"
)

// The test binary doubles as the helper processes of the cross-process
// tests (the os/exec tests' pattern): with helperEnv set, TestMain runs the
// named helper instead of the tests and exits.
const (
	helperEnv = "SEMLOCK_TEST_HELPER" // helper name
	handleEnv = "SEMLOCK_TEST_HANDLE" // JSON of the semlock.Handle to attach
	argEnv    = "SEMLOCK_TEST_ARG"    // helper argument
)

func TestMain(m *testing.M) {
	if name := os.Getenv(helperEnv); name != "" {
		os.Exit(runHelper(name))
	}
	os.Exit(m.Run())
}

// runHelper runs helper name and returns the exit code. Helpers report on
// stdout, one line per event, and take orders as lines on stdin.
func runHelper(name string) int {
	fail := func(format string, args ...any) int {
		fmt.Fprintf(os.Stderr, "helper %s: "+format+"\n", append([]any{name}, args...)...)
		return 2
	}
	arg := os.Getenv(argEnv)
	if name == "open" { // Open by name once stdin says go
		bufio.NewReader(os.Stdin).ReadString('\n')
		s, err := semlock.Open(arg, semlock.Semaphore, 3, 3)
		if err != nil {
			return fail("%v", err)
		}
		h := s.Handle()
		fmt.Printf("%d %d %d\n", h.ID, h.Token, h.Creator)
		return 0
	}
	var h semlock.Handle
	if err := json.Unmarshal([]byte(os.Getenv(handleEnv)), &h); err != nil {
		return fail("handle: %v", err)
	}
	s, err := semlock.Attach(h)
	if err != nil {
		return fail("attach: %v", err)
	}
	ctx := context.Background()
	switch name {
	case "value":
		v, err := s.Value()
		if err != nil {
			return fail("%v", err)
		}
		fmt.Println(v)
	case "hold": // acquire, say so, then wait to be killed
		if err := s.Acquire(ctx); err != nil {
			return fail("%v", err)
		}
		fmt.Println("held")
		io.Copy(io.Discard, os.Stdin)
	case "acquire": // block in Acquire, report how it ended, release if held
		fmt.Println("waiting")
		err := s.Acquire(ctx)
		fmt.Println(outcome(err))
		if err == nil || errors.Is(err, semlock.ErrOwnerDead) {
			fmt.Println(outcome(s.Release()))
		}
	case "cancel": // block in a cancellable Acquire until stdin closes
		ctx, cancel := context.WithCancel(ctx)
		go func() { io.Copy(io.Discard, os.Stdin); cancel() }()
		fmt.Println("waiting")
		fmt.Println(outcome(s.Acquire(ctx)))
	case "release": // release arg times as fast as possible once told
		n, _ := strconv.Atoi(arg)
		bufio.NewReader(os.Stdin).ReadString('\n')
		ok, over := 0, 0
		for range n {
			switch err := s.Release(); {
			case err == nil:
				ok++
			case errors.Is(err, semlock.ErrTooManyReleases):
				over++
			default:
				return fail("%v", err)
			}
		}
		fmt.Println(ok, over)
	case "count": // increment the number in file arg 400 times under the mutex
		for range 400 {
			if err := s.Acquire(ctx); err != nil {
				return fail("acquire: %v", err)
			}
			b, err := os.ReadFile(arg)
			if err != nil {
				return fail("%v", err)
			}
			n, _ := strconv.Atoi(strings.TrimSpace(string(b)))
			if err := os.WriteFile(arg, []byte(strconv.Itoa(n+1)), 0o600); err != nil {
				return fail("%v", err)
			}
			if err := s.Release(); err != nil {
				return fail("release: %v", err)
			}
		}
	case "pingpong": // arg is the pong handle: take a ping, give a pong, forever
		var ph semlock.Handle
		json.Unmarshal([]byte(arg), &ph)
		pong, err := semlock.Attach(ph)
		if err != nil {
			return fail("attach pong: %v", err)
		}
		for {
			if err := s.Acquire(ctx); err != nil {
				return 0 // removed: done
			}
			if err := pong.Release(); err != nil {
				return 0
			}
		}
	default:
		if code, ok := runSyncHelper(name, h, arg); ok {
			return code
		}
		return fail("unknown helper")
	}
	return 0
}

// outcome names how a call ended, for helpers to print.
func outcome(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, semlock.ErrOwnerDead):
		return "ownerdead"
	case errors.Is(err, semlock.ErrRemoved):
		return "removed"
	case errors.Is(err, context.Canceled):
		return "canceled"
	}
	return "error: " + err.Error()
}

// child is a helper process started by a test.
type child struct {
	t     testing.TB
	cmd   *exec.Cmd
	in    io.WriteCloser
	lines chan string
}

// startHelper starts helper name attached to h (if any) with arg, and
// extra as its files 3, 4, ... The child is killed and reaped when the
// test ends.
func startHelper(t testing.TB, name string, h *semlock.Handle, arg string, extra ...*os.File) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+name, argEnv+"="+arg, quickRaceExit())
	if h != nil {
		b, _ := json.Marshal(h)
		cmd.Env = append(cmd.Env, handleEnv+"="+string(b))
	}
	cmd.Stderr = os.Stderr
	cmd.ExtraFiles = extra
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	leakcheck.Track(cmd.Process.Pid)
	c := &child{t: t, cmd: cmd, in: in, lines: make(chan string, 16)}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			c.lines <- sc.Text()
		}
		close(c.lines)
	}()
	t.Cleanup(func() {
		in.Close()
		cmd.Process.Kill()
		cmd.Wait()
	})
	return c
}

// quickRaceExit keeps a -race child from sleeping 1 s at exit.
func quickRaceExit() string {
	return "GORACE=" + strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0")
}

// line returns the child's next line of output, failing the test if none
// comes within a generous time.
func (c *child) line() string {
	c.t.Helper()
	select {
	case l, ok := <-c.lines:
		if !ok {
			c.t.Fatalf("helper %d exited without the expected output", c.cmd.Process.Pid)
		}
		return l
	case <-time.After(30 * time.Second):
		c.t.Fatalf("helper %d said nothing for 30 s", c.cmd.Process.Pid)
	}
	return ""
}

// expect fails the test unless the child's next line is want.
func (c *child) expect(want string) {
	c.t.Helper()
	if got := c.line(); got != want {
		c.t.Fatalf("helper %d said %q, want %q", c.cmd.Process.Pid, got, want)
	}
}

// wait waits for the child to exit and fails the test if it failed.
func (c *child) wait() {
	c.t.Helper()
	c.in.Close()
	for range c.lines { // drain: Wait closes the pipe
	}
	if err := c.cmd.Wait(); err != nil {
		c.t.Fatalf("helper %d: %v", c.cmd.Process.Pid, err)
	}
}

// kill sends SIGKILL and reaps the child.
func (c *child) kill() {
	c.t.Helper()
	if err := c.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		c.t.Fatal(err)
	}
	c.cmd.Wait()
}

// waitFor polls cond until it holds, failing the test after a generous
// time. Used only to wait for a state, never to assert speed.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !cond(); time.Sleep(2 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// waiters returns s.Waiters() or fails the test.
func waiters(t testing.TB, s *semlock.SemLock) int {
	t.Helper()
	n, err := s.Waiters()
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// value returns s.Value() or fails the test.
func value(t testing.TB, s *semlock.SemLock) int {
	t.Helper()
	v, err := s.Value()
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// newSet creates a private set removed when the test ends.
func newSet(t testing.TB, kind semlock.Kind, v, max int, opts ...semlock.Option) *semlock.SemLock {
	t.Helper()
	s, err := semlock.New(kind, v, max, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Remove() })
	return s
}

// wantCanceled waits (30 s at most) for a cancelled Acquire's result on
// done and fails the test unless it is context.Canceled.
func wantCanceled(t testing.TB, done <-chan error) {
	t.Helper()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled Acquire: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("cancelled Acquire did not return")
	}
}

// exhausted returns a set of kind with no unit available: a semaphore of
// value 0 (max 2), or a mutex this process holds until the test ends.
func exhausted(t testing.TB, kind semlock.Kind) *semlock.SemLock {
	t.Helper()
	if kind != semlock.Mutex {
		return newSet(t, kind, 0, 2)
	}
	s := newSet(t, kind, 1, 1)
	if err := s.Acquire(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Release() }) // runs before newSet's Remove; an error once removed is fine
	return s
}

// uniqueName is a set name no other test run uses.
func uniqueName(t testing.TB) string {
	return fmt.Sprintf("t%d-%d-%s", os.Getpid(), time.Now().UnixNano()%1e9, strings.ReplaceAll(t.Name(), "/", "."))
}
