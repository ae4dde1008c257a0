//go:build linux

package integration

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/poolrun/poolrun/internal/leakcheck"
	"github.com/poolrun/poolrun/internal/procstart"
	"github.com/poolrun/poolrun/semlock"
)

// A poolrun whose trackers were SIGKILLed, then SIGKILLed itself, leaves
// no set and no job behind. Before, a dead tracker was replaced only when
// poolrun next tracked something (its next job): killed meanwhile,
// `poolrun -j 2 sleep ::: 30 30 30` left its 3 private sets (the cap and
// the two slots' mutexes) until poolrun sem gc.
func TestTrackerKilledThenRunKilled(t *testing.T) {
	leakcheck.Check(t)
	t.Parallel()
	cmd, _, errb := start(t, runOpts{}, "-j", "2", "sleep", ":::", "30", "30", "30")
	pid := cmd.Process.Pid
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	defer func() {
		cmd.Process.Kill()
		<-done
	}()
	var jobs, trackers []int
	waitFact(t, 30*time.Second, "poolrun runs 2 jobs and a tracker, with its 3 sets", func() bool {
		jobs, trackers = children(pid)
		return len(jobs) == 2 && len(trackers) > 0 && len(setsOf(t, pid)) == 3
	})
	for _, p := range append(jobs, trackers...) {
		leakcheck.Track(p)
	}
	for _, p := range trackers {
		syscall.Kill(p, syscall.SIGKILL)
	}
	waitFact(t, 10*time.Second, "the killed trackers are gone", func() bool {
		return !slices.ContainsFunc(trackers, runs)
	})
	// The fact to wait for: a new tracker runs (it had everything
	// registered in its pipe before it was forked). The old code never
	// started one while no job started or ended; the run is killed then
	// anyway, to show what it leaves.
	var now []int
	newTracker := func() bool {
		_, now = children(pid)
		return slices.ContainsFunc(now, func(p int) bool { return !slices.Contains(trackers, p) })
	}
	deadline := time.Now().Add(20 * time.Second)
	for !newTracker() && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if !newTracker() {
		t.Errorf("no new tracker 20 s after trackers %v were killed (children now: %v)", trackers, now)
	}
	for _, p := range now {
		leakcheck.Track(p)
	}
	cmd.Process.Kill()
	<-done

	deadline = time.Now().Add(20 * time.Second)
	for len(setsOf(t, pid)) > 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if left := setsOf(t, pid); len(left) > 0 {
		t.Errorf("%d sets of the SIGKILLed poolrun left 20 s after its death: %v; stderr:\n%s", len(left), left, errb)
		for _, id := range left {
			semlock.RemoveID(id) // created by the poolrun this test started (setsOf checked)
		}
	}
	for _, p := range append(jobs, now...) {
		for runs(p) && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		if runs(p) {
			t.Errorf("process %d (a job or a tracker of the killed poolrun) still runs", p)
			syscall.Kill(p, syscall.SIGKILL) // this test's: a child of the poolrun it started
		}
	}
}

// waitFact waits up to limit for fact to hold, and fails the test if it
// does not.
func waitFact(t *testing.T, limit time.Duration, what string, fact func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !fact() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not so %v on", what, limit)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// children returns the live children of pid: its trackers (re-execs with
// spawn's tracker role in their environment) and the others.
func children(pid int) (others, trackers []int) {
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, st := range stats {
		b, err := os.ReadFile(st)
		if err != nil {
			continue
		}
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		fs := strings.Fields(s[i+1:])
		if i < 0 || len(fs) < 2 || fs[0] == "Z" || fs[1] != strconv.Itoa(pid) {
			continue
		}
		c, err := strconv.Atoi(filepath.Base(filepath.Dir(st)))
		if err != nil {
			continue
		}
		env, _ := os.ReadFile(filepath.Join(filepath.Dir(st), "environ"))
		if bytes.Contains(env, []byte("\x00POOLRUN_SPAWN_ROLE=poolrun-tracker\x00")) || bytes.HasPrefix(env, []byte("POOLRUN_SPAWN_ROLE=poolrun-tracker\x00")) {
			trackers = append(trackers, c)
		} else {
			others = append(others, c)
		}
	}
	return others, trackers
}

// setsOf returns the ids of the sets process pid created that still exist.
func setsOf(t *testing.T, pid int) []int {
	t.Helper()
	infos, err := semlock.List()
	if err != nil {
		t.Fatal(err)
	}
	var ids []int
	for _, in := range infos {
		if in.Creator == pid {
			ids = append(ids, in.ID)
		}
	}
	return ids
}

// runs reports whether process pid runs (a zombie does not).
func runs(pid int) bool {
	_, ok := procstart.Start(pid)
	return ok
}
