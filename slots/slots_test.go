package slots_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/poolrun/poolrun/internal/leakcheck"
	"github.com/poolrun/poolrun/rebuild"
	"github.com/poolrun/poolrun/semlock"
	"github.com/poolrun/poolrun/slots"
	"github.com/poolrun/poolrun/spawn"
)

// childEnv makes the test binary a process started on a slot: it
// attaches the inherited cap and reports on stdout what it gets.
const childEnv = "SLOTS_TEST_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		childMain()
		return
	}
	spawn.Dispatch()
	os.Exit(m.Run())
}

// childMain: "try" takes a slot without waiting and says "got" or
// "none"; then, if it has none, waits for one and says "got". Holding it,
// it waits until stdin closes.
func childMain() {
	c, err := slots.FromEnv()
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	s, ok, err := c.TryAcquire()
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	if !ok {
		fmt.Println("none")
		if s, err = c.Acquire(context.Background()); err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
	}
	fmt.Println("got")
	bufio.NewReader(os.Stdin).ReadString('\n')
	s.Release()
	c.Close()
}

func TestNewTakesAndGivesBack(t *testing.T) {
	leakcheck.Check(t)
	c, err := slots.New(2)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.Size() != 2 {
		t.Errorf("Size() = %d, want 2", c.Size())
	}
	a, err := c.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	b, ok, err := c.TryAcquire()
	if err != nil || !ok {
		t.Fatalf("second slot: %v %v", ok, err)
	}
	if _, ok, _ := c.TryAcquire(); ok {
		t.Fatal("a third slot of a cap of 2")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := c.Acquire(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Acquire on a full cap with a deadline: %v", err)
	}
	if err := a.Release(); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := c.TryAcquire(); !ok {
		t.Error("a released slot did not come back")
	}
	b.Release()
}

func TestBadSizes(t *testing.T) {
	for _, n := range []int{0, -1, semlock.MaxValue + 1} {
		if c, err := slots.New(n); err == nil {
			c.Close()
			t.Errorf("New(%d): no error", n)
		}
		if c, err := slots.Open("slots-test-bad", n); err == nil {
			c.Close()
			t.Errorf("Open(%d): no error", n)
		}
	}
	if _, err := slots.Open("bad name!", 2); err == nil {
		t.Error("Open of an invalid name: no error")
	}
}

func TestOpenShares(t *testing.T) {
	leakcheck.Check(t)
	name := fmt.Sprintf("slots-test-%d", os.Getpid())
	a, err := slots.Open(name, 1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if h, err := semlock.LookupName(name); err == nil {
			semlock.RemoveID(h.ID)
		}
	})
	defer a.Close()
	b, err := slots.Open(name, 5)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if b.Size() != 1 {
		t.Errorf("a second Open with 5 slots: Size() = %d, want the existing 1", b.Size())
	}
	s, err := a.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := b.TryAcquire(); ok {
		t.Error("two slots of a named cap of 1")
	}
	s.Release()
	if _, ok, _ := b.TryAcquire(); !ok {
		t.Error("the slot released through one opener is not free for the other")
	}
}

func TestFromEnvWithoutCap(t *testing.T) {
	t.Setenv("POOLRUN_SEMLOCKS", "")
	if _, err := slots.FromEnv(); !errors.Is(err, slots.ErrNoCap) {
		t.Errorf("FromEnv with no inherited cap: %v, want ErrNoCap", err)
	}
	t.Setenv("POOLRUN_SEMLOCKS", "garbage")
	if _, err := slots.FromEnv(); err == nil || errors.Is(err, slots.ErrNoCap) {
		t.Errorf("FromEnv with a malformed POOLRUN_SEMLOCKS: %v, want an error saying so", err)
	}
}

// child is a test binary started on a slot with share's environment.
type child struct {
	cmd   *exec.Cmd
	lines *bufio.Scanner
	stdin interface{ Close() error }
}

func startChild(t *testing.T, share slots.Share) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	env := []string{childEnv + "=1"}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "POOLRUN_") {
			env = append(env, kv)
		}
	}
	cmd.Env = append(env, share.Env()...)
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
	t.Cleanup(func() { in.Close(); cmd.Process.Kill(); cmd.Wait() })
	return &child{cmd: cmd, lines: bufio.NewScanner(out), stdin: in}
}

func (c *child) next(t *testing.T) string {
	t.Helper()
	if !c.lines.Scan() {
		t.Fatalf("child %d said nothing more", c.cmd.Process.Pid)
	}
	return c.lines.Text()
}

// A process started on a slot takes its first slot for free (its job's),
// even when the cap has none left; a second one started on the same slot
// does not, and waits; it takes the job's slot over when the first dies,
// SIGKILL included.
func TestShareJobSlotClaimableOnce(t *testing.T) {
	leakcheck.Check(t)
	c, err := slots.New(1)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s, err := c.Acquire(context.Background()) // the job's slot: the cap is now full
	if err != nil {
		t.Fatal(err)
	}
	defer s.Release()
	share, err := c.Share()
	if err != nil {
		t.Fatal(err)
	}
	defer share.Close()

	a := startChild(t, share)
	if got := a.next(t); got != "got" {
		t.Fatalf("first process on the job's slot: %q, want got", got)
	}
	b := startChild(t, share)
	if got := b.next(t); got != "none" {
		t.Fatalf("second process on the job's slot: %q, want none (the first has it)", got)
	}
	a.cmd.Process.Signal(syscall.SIGKILL)
	a.cmd.Wait()
	if got := b.next(t); got != "got" {
		t.Fatalf("second process after the first was killed: %q, want got", got)
	}
	b.stdin.Close()
	if err := b.cmd.Wait(); err != nil {
		t.Errorf("second process: %v", err)
	}
}

// A private cap made in a process that inherited handles passes them on
// to the processes started on its slots, with itself as their cap.
func TestNewKeepsInheritedHandles(t *testing.T) {
	leakcheck.Check(t)
	m, err := spawn.NewTracked(semlock.Mutex, 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer spawn.RemoveTracked(m)
	enc, err := rebuild.Encode(map[string]semlock.Handle{"mylock": m.Handle()})
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(rebuild.EnvVar, enc)
	c, err := slots.New(1)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	share, err := c.Share()
	if err != nil {
		t.Fatal(err)
	}
	defer share.Close()
	var hs map[string]semlock.Handle
	for _, kv := range share.Env() {
		if v, ok := strings.CutPrefix(kv, rebuild.EnvVar+"="); ok {
			if hs, err = rebuild.Decode(v); err != nil {
				t.Fatal(err)
			}
		}
	}
	if hs["mylock"] != m.Handle() || hs[slots.CapName].ID == m.ID() || len(hs) != 3 {
		t.Errorf("the share's handles %v: want mylock, the cap and the held mutex", hs)
	}
}
