package spawn_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/poolrun/poolrun/internal/leakcheck"
	"github.com/poolrun/poolrun/semlock"
	"github.com/poolrun/poolrun/spawn"
)

// A tracker's death must open no window: a parent whose trackers are
// SIGKILLed, and which is SIGKILLed afterwards, still leaves no set and no
// process of its groups behind. Before, a dead tracker was replaced only
// at the parent's next Track or Cmd.Start; a parent killed meanwhile left
// its sets until poolrun sem gc, and its groups' grandchildren running.

// guardedRole creates 3 tracked private sets and one tracked process
// group, a shell whose child (a sleep) only a group kill ends (PDEATHSIG
// ends the shell, not its child), and prints "sets=A,B,C gc=G". Then it
// answers each line on stdin with "trackers=T1,T2", the pids of its live
// trackers (each of which was told everything registered), until it is
// killed.
func guardedRole(ctx context.Context) error {
	var ids []int
	for range 3 {
		s, err := spawn.NewTracked(semlock.Semaphore, 1, 1)
		if err != nil {
			return err
		}
		ids = append(ids, s.ID())
	}
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	defer r.Close()
	c := spawn.Command(ctx, "sh", "-c", "sleep 1000 & echo $!; wait")
	c.Stdout, c.Stderr = w, os.Stderr
	err = c.Start()
	w.Close()
	if err != nil {
		return err
	}
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil {
		return fmt.Errorf("the group's shell said %q: %v", line, err)
	}
	fmt.Printf("sets=%s gc=%s\n", joinInts(ids), strings.TrimSpace(line))
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		fmt.Printf("trackers=%s\n", joinInts(spawn.TrackerPids()))
	}
	<-ctx.Done()
	return nil
}

// guarded is a running guardedRole helper.
type guarded struct {
	cmd  *spawn.Cmd
	ask  io.WriteCloser
	out  *bufio.Reader
	sets []int
	gc   int
}

func startGuarded(t *testing.T) *guarded {
	t.Helper()
	inR, inW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { inW.Close(); outR.Close() })
	c := spawn.Worker(context.Background(), "guarded")
	c.Stdin, c.Stdout, c.Stderr = inR, outW, os.Stderr
	err = c.Start()
	inR.Close()
	outW.Close()
	if err != nil {
		t.Fatal(err)
	}
	leakcheck.Track(c.Process.Pid)
	g := &guarded{cmd: c, ask: inW, out: bufio.NewReader(outR)}
	line, err := g.out.ReadString('\n')
	var sets string
	if _, serr := fmt.Sscanf(line, "sets=%s gc=%d", &sets, &g.gc); serr != nil || err != nil {
		c.Stop()
		c.Wait()
		t.Fatalf("guarded helper said %q (%v)", line, err)
	}
	g.sets = ints(t, sets)
	leakcheck.Track(g.gc)
	return g
}

// trackers asks the helper for its live trackers' pids.
func (g *guarded) trackers(t *testing.T) []int {
	t.Helper()
	if _, err := io.WriteString(g.ask, "?\n"); err != nil {
		t.Fatalf("asking the helper: %v", err)
	}
	line, err := g.out.ReadString('\n')
	v, ok := strings.CutPrefix(strings.TrimSpace(line), "trackers=")
	if err != nil || !ok {
		t.Fatalf("the helper answered %q (%v)", line, err)
	}
	if v == "" {
		return nil
	}
	pids := ints(t, v)
	for _, p := range pids {
		leakcheck.Track(p)
	}
	return pids
}

// waitTrackers asks until ok(the helper's trackers) holds, up to 30 s.
func (g *guarded) waitTrackers(t *testing.T, what string, ok func([]int) bool) ([]int, bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		pids := g.trackers(t)
		if ok(pids) {
			return pids, true
		}
		if time.Now().After(deadline) {
			t.Errorf("%s: trackers %v 30 s on", what, pids)
			return pids, false
		}
		time.Sleep(time.Millisecond)
	}
}

// TestTrackerDeathLeavesNothing: SIGKILL one tracker ("one") or both at
// once ("both"), wait until a new tracker is reported, then SIGKILL the
// parent: its 3 sets are removed and its group's grandchild is killed,
// by the twin and the new tracker ("one") or by the new tracker alone,
// which so must have been told everything ("both").
func TestTrackerDeathLeavesNothing(t *testing.T) {
	leakcheck.Check(t)
	for _, which := range []string{"one", "both"} {
		t.Run(which, func(t *testing.T) {
			g := startGuarded(t)
			first, _ := g.waitTrackers(t, "two trackers after the first Track", func(p []int) bool { return len(p) == 2 })
			if len(first) == 0 {
				g.cmd.Stop()
				g.cmd.Wait()
				t.FailNow()
			}
			victims := first
			if which == "one" {
				victims = first[:1]
			}
			for _, p := range victims {
				syscall.Kill(p, syscall.SIGKILL)
			}
			if _, ok := gone(victims, 10*time.Second); !ok {
				t.Fatalf("trackers %v survived SIGKILL", victims)
			}
			// The fact to wait for: a tracker this test did not see
			// before is reported (it was told everything before it was
			// reported).
			after, _ := g.waitTrackers(t, "a new tracker after killing "+fmt.Sprint(victims), func(p []int) bool {
				return slices.ContainsFunc(p, func(pid int) bool { return !slices.Contains(first, pid) })
			})
			syscall.Kill(g.cmd.Process.Pid, syscall.SIGKILL)
			g.cmd.Wait()

			deadline := time.Now().Add(20 * time.Second)
			parent := g.cmd.Process.Pid
			left := func() []int { // the helper's sets still there (not a newer set with one's id)
				infos, err := semlock.List()
				if err != nil {
					t.Fatal(err)
				}
				var l []int
				for _, in := range infos {
					if slices.Contains(g.sets, in.ID) && in.Creator == parent {
						l = append(l, in.ID)
					}
				}
				return l
			}
			for len(left()) > 0 && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
			}
			_, gcGone := gone([]int{g.gc}, time.Until(deadline))
			if l := left(); len(l) > 0 {
				t.Errorf("sets %v of %v left 20 s after the parent's death (trackers %v killed; then %v)", l, g.sets, victims, after)
				for _, id := range l {
					semlock.RemoveID(id) // the helper's: created by the process this test started, just checked
				}
			}
			if !gcGone {
				t.Errorf("the group's grandchild %d still runs 20 s after the parent's death", g.gc)
				syscall.Kill(g.gc, syscall.SIGKILL)
			}
			if _, ok := gone(after, 20*time.Second); !ok {
				t.Errorf("trackers %v still run 20 s after the parent's death", after)
			}
		})
	}
}
