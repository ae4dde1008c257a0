package etcdcap

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// The test binary re-executed as a helper: ETCDCAP_HELPER names what it
// does, ETCDCAP_URL the cap, ETCDCAP_DIR where it writes what it did.
func TestMain(m *testing.M) {
	switch os.Getenv("ETCDCAP_HELPER") {
	case "":
		os.Exit(m.Run())
	case "holders":
		os.Exit(helperHolders())
	case "hold":
		os.Exit(helperHold())
	case "nested":
		os.Exit(helperNested())
	default:
		fmt.Fprintln(os.Stderr, "unknown helper")
		os.Exit(2)
	}
}

func helperTarget() Target {
	t, err := ParseURL(os.Getenv("ETCDCAP_URL"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
	return t
}

// helperHolders takes ETCDCAP_ROUNDS slots one after the other from a cap
// of ETCDCAP_SIZE; on each it makes a file in ETCDCAP_DIR, counts the
// files there (at most SIZE if the cap holds across processes: each
// holder's file exists only while it holds), and removes its file before
// it gives the slot back. A count above SIZE is written to DIR/over.
func helperHolders() int {
	size, _ := strconv.Atoi(os.Getenv("ETCDCAP_SIZE"))
	rounds, _ := strconv.Atoi(os.Getenv("ETCDCAP_ROUNDS"))
	dir := os.Getenv("ETCDCAP_DIR")
	c, err := Open(context.Background(), helperTarget(), size)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer c.Close()
	for r := 0; r < rounds; r++ {
		s, err := c.Acquire(context.Background())
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		me := filepath.Join(dir, "hold", fmt.Sprintf("%d.%d", os.Getpid(), r))
		if err := os.WriteFile(me, nil, 0o644); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		ents, _ := os.ReadDir(filepath.Join(dir, "hold"))
		if len(ents) > size {
			os.WriteFile(filepath.Join(dir, fmt.Sprintf("over.%d.%d", os.Getpid(), r)), []byte(strconv.Itoa(len(ents))), 0o644)
		}
		os.WriteFile(filepath.Join(dir, "ran", fmt.Sprintf("%d.%d", os.Getpid(), r)), nil, 0o644)
		time.Sleep(time.Millisecond) // hold it a moment, so holders overlap
		os.Remove(me)
		if err := s.Release(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	return 0
}

// helperHold takes a slot, writes DIR/held, and holds it until killed.
func helperHold() int {
	c, err := Open(context.Background(), helperTarget(), 1)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if _, err := c.Acquire(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	os.WriteFile(filepath.Join(os.Getenv("ETCDCAP_DIR"), "held"), nil, 0o644)
	select {}
}

// helperNested is a process started on a job's slot: it opens the
// inherited cap and takes a slot at once (TryAcquire), which it can only
// have as the job's own slot when the parent holds every slot; it writes
// DIR/nested "ok" or what went wrong.
func helperNested() int {
	out := filepath.Join(os.Getenv("ETCDCAP_DIR"), "nested")
	c, err := FromEnv(context.Background())
	if err != nil {
		os.WriteFile(out, []byte(err.Error()), 0o644)
		return 1
	}
	defer c.Close()
	s, ok, err := c.TryAcquire()
	if err != nil || !ok {
		os.WriteFile(out, []byte(fmt.Sprintf("no slot: %v %v", ok, err)), 0o644)
		return 1
	}
	// A second one must wait: the job has one slot, and the cap is full.
	_, ok2, err := c.TryAcquire()
	if err != nil || ok2 {
		os.WriteFile(out, []byte(fmt.Sprintf("a second slot: %v %v", ok2, err)), 0o644)
		return 1
	}
	s.Release()
	os.WriteFile(out, []byte("ok"), 0o644)
	return 0
}

// helper starts the test binary as helper what, with env added.
func helper(t *testing.T, what string, env ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(append(os.Environ(), "ETCDCAP_HELPER="+what), env...)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd
}
