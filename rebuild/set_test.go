package rebuild

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/poolrun/poolrun/internal/leakcheck"
	"github.com/poolrun/poolrun/semlock"
)

// helperEnv makes the test binary run a helper instead of the tests.
const helperEnv = "REBUILD_TEST_HELPER"

func TestMain(m *testing.M) {
	if raceEnabled && os.Getenv("GORACE") == "" {
		os.Setenv("GORACE", "atexit_sleep_ms=0") // helpers need not sleep 1 s at exit
	}
	switch os.Getenv(helperEnv) {
	case "":
		os.Exit(m.Run())
	case "child":
		err := childMain()
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
	case "stale":
		if err := staleMain(); err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
	default:
		fmt.Fprintln(os.Stderr, "unknown helper", os.Getenv(helperEnv))
		os.Exit(2)
	}
	os.Exit(0)
}

// childMain reattaches the parent's sets, reports what it sees, and
// changes them for the parent to see.
func childMain() error {
	set, err := FromEnv()
	if err != nil {
		return err
	}
	defer set.Close()
	slots, ok1 := set.Lookup("slots")
	lock, ok2 := set.Lookup("lock")
	if !ok1 || !ok2 {
		return fmt.Errorf("names %v", set.Names())
	}
	v, err := slots.Value()
	if err != nil {
		return err
	}
	got, err := lock.TryAcquire()
	if err != nil {
		return err
	}
	for i := 0; i < 2; i++ {
		if err := slots.Acquire(context.Background()); err != nil {
			return err
		}
	}
	fmt.Printf("names=%s value=%d lock-taken=%v\n", strings.Join(set.Names(), ","), v, got)
	return nil
}

func helper(t *testing.T, role string, env ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+role)
	cmd.Env = append(cmd.Env, env...)
	cmd.Stderr = os.Stderr
	return cmd
}

func TestChildSharesSets(t *testing.T) {
	leakcheck.Check(t)
	slots, err := semlock.New(semlock.Semaphore, 1, 4, semlock.WithoutUndo())
	if err != nil {
		t.Fatal(err)
	}
	defer slots.Remove()
	lock, err := semlock.New(semlock.Mutex, 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Remove()
	if err := slots.Release(); err != nil { // 2: the child must see it
		t.Fatal(err)
	}
	if err := lock.Acquire(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer lock.Release()
	val, err := Encode(map[string]semlock.Handle{"slots": slots.Handle(), "lock": lock.Handle()})
	if err != nil {
		t.Fatal(err)
	}
	cmd := helper(t, "child", EnvVar+"="+val)
	out, err := cmd.Output()
	leakcheck.Track(cmd.Process.Pid)
	if err != nil {
		t.Fatalf("child: %v: %s", err, out)
	}
	if got, want := strings.TrimSpace(string(out)), "names=lock,slots value=2 lock-taken=false"; got != want {
		t.Fatalf("child saw %q, want %q", got, want)
	}
	if v, err := slots.Value(); err != nil || v != 0 {
		t.Fatalf("after the child took 2 units the parent sees %d, %v; want 0", v, err)
	}
}

func TestFromEnvEmpty(t *testing.T) {
	leakcheck.Check(t)
	t.Setenv(EnvVar, "")
	set, err := FromEnv()
	if err != nil || len(set.Names()) != 0 || len(set.Handles()) != 0 {
		t.Fatalf("FromEnv with an empty variable = %v, %v", set, err)
	}
	if _, ok := set.Lookup("x"); ok {
		t.Fatal("Lookup in an empty set succeeded")
	}
	set.Close()
	t.Setenv(EnvVar, "v1;a=0,1")
	if _, err := FromEnv(); !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), EnvVar) {
		t.Fatalf("FromEnv with garbage = %v", err)
	}
}

// TestTampered: a handle whose fields disagree with its set is refused
// with an error that names the variable, the handle and the field.
func TestTampered(t *testing.T) {
	leakcheck.Check(t)
	s, err := semlock.New(semlock.Semaphore, 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Remove()
	name := fmt.Sprintf("rebuild-test-%d", os.Getpid())
	named, err := semlock.Open(name, semlock.Semaphore, 2, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer named.Remove()
	for _, tc := range []struct {
		what   string
		h      semlock.Handle
		change func(*semlock.Handle)
		is     error
		field  string
	}{
		{"kind", s.Handle(), func(h *semlock.Handle) { h.Kind = semlock.Mutex }, semlock.ErrMismatch, "kind"},
		{"max", s.Handle(), func(h *semlock.Handle) { h.MaxValue = 3 }, semlock.ErrMismatch, "max"},
		{"undo", s.Handle(), func(h *semlock.Handle) { h.Undo = false }, semlock.ErrMismatch, "undo"},
		{"token", s.Handle(), func(h *semlock.Handle) { h.Token ^= 1 }, semlock.ErrStale, "token"},
		{"creator", s.Handle(), func(h *semlock.Handle) { h.Creator++ }, semlock.ErrStale, "creator"},
		{"key", named.Handle(), func(h *semlock.Handle) { h.Key++ }, semlock.ErrMismatch, "key"},
		{"set name", named.Handle(), func(h *semlock.Handle) { h.Name += "x" }, semlock.ErrMismatch, "name"},
	} {
		h := tc.h
		tc.change(&h)
		val, err := Encode(map[string]semlock.Handle{"victim": h})
		if err != nil {
			t.Fatalf("%s: %v", tc.what, err)
		}
		_, err = attach(val)
		if !errors.Is(err, tc.is) {
			t.Errorf("tampered %s: %v, want %v", tc.what, err, tc.is)
			continue
		}
		msg := err.Error()
		if !strings.Contains(msg, EnvVar) || !strings.Contains(msg, `handle "victim"`) || !strings.Contains(msg, tc.field) {
			t.Errorf("tampered %s: %q does not name the variable, the handle and the field %q", tc.what, msg, tc.field)
		}
	}
	// The set is another user's: a mismatch that says so.
	restore, err := setOwner(s.ID(), 65534)
	if err != nil {
		t.Logf("cannot change the owner of a set (%v): the uid case is not tested", err)
		return
	}
	defer restore()
	val, _ := Encode(map[string]semlock.Handle{"victim": s.Handle()})
	if _, err := attach(val); !errors.Is(err, semlock.ErrMismatch) || !strings.Contains(err.Error(), "uid 65534") {
		t.Errorf("a set of uid 65534: %v, want ErrMismatch naming the uid", err)
	}
}

func TestStale(t *testing.T) {
	leakcheck.Check(t)
	// Removed: stale (and removed).
	s, err := semlock.New(semlock.Semaphore, 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	val, _ := Encode(map[string]semlock.Handle{"gone": s.Handle()})
	if err := s.Remove(); err != nil {
		t.Fatal(err)
	}
	if _, err := attach(val); !errors.Is(err, semlock.ErrStale) || !errors.Is(err, semlock.ErrRemoved) || !strings.Contains(err.Error(), `handle "gone"`) {
		t.Fatalf("attach of a removed set: %v, want ErrStale and ErrRemoved naming the handle", err)
	}
}

// TestStaleReusedID forces the kernel to give a removed set's id to a new
// set (inside a private IPC namespace, as root) and checks that the old
// handle is refused with ErrStale and never touches the new set.
func TestStaleReusedID(t *testing.T) {
	leakcheck.Check(t)
	cmd := helper(t, "stale")
	if err := inNewIPCNamespace(cmd); err != nil {
		t.Skipf("no private IPC namespace here: %v", err)
	}
	out, err := cmd.Output()
	if cmd.Process == nil {
		t.Skipf("no private IPC namespace here: %v", err)
	}
	leakcheck.Track(cmd.Process.Pid)
	text := strings.TrimSpace(string(out))
	if strings.HasPrefix(text, "skip:") {
		t.Skip(text)
	}
	if err != nil || text != "ok" {
		t.Fatalf("helper: %v: %s", err, out)
	}
}

// staleMain runs in a private IPC namespace.
func staleMain() error {
	old, err := semlock.New(semlock.Semaphore, 2, 2)
	if err != nil {
		return err
	}
	val, err := Encode(map[string]semlock.Handle{"old": old.Handle()})
	if err != nil {
		return err
	}
	if err := old.Remove(); err != nil {
		return err
	}
	if err := os.WriteFile("/proc/sys/kernel/sem_next_id", []byte(fmt.Sprint(old.ID())), 0); err != nil {
		fmt.Println("skip: cannot write sem_next_id:", err)
		return nil
	}
	newer, err := semlock.New(semlock.Semaphore, 2, 2)
	if err != nil {
		return err
	}
	defer newer.Remove()
	if newer.ID() != old.ID() {
		fmt.Printf("skip: the kernel gave id %d, not %d\n", newer.ID(), old.ID())
		return nil
	}
	_, err = attach(val)
	if !errors.Is(err, semlock.ErrStale) || !strings.Contains(err.Error(), `handle "old"`) {
		return fmt.Errorf("attach of a handle whose id was reused: %v, want ErrStale", err)
	}
	if v, err := newer.Value(); err != nil || v != 2 {
		return fmt.Errorf("the newer set changed: %d, %v", v, err)
	}
	fmt.Println("ok")
	return nil
}
