// Package leakcheck fails a test that leaves a poolrun semaphore set
// behind. go test ./... runs packages in parallel, so it counts only the
// sets that this test process or its descendants created (each set names
// its creator), not every set on the machine.
//
//	func TestX(t *testing.T) {
//		leakcheck.Check(t)
//		...
//	}
package leakcheck

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/poolrun/poolrun/semlock"
)

var (
	mu      sync.Mutex
	tracked = map[int]bool{}
	active  int                      // Checks whose tests are running
	pending = map[int]semlock.Info{} // sets left when other Checks were active
)

// Track records pid as started by this test process, so that sets it
// creates count as this process's even after it has exited. Descendants
// that are still alive at check time are found without it.
func Track(pid int) {
	mu.Lock()
	tracked[pid] = true
	mu.Unlock()
}

// Check snapshots this user's sets now, and at the end of the test fails
// it if sets created since by this process, a tracked pid or a live
// descendant are still there. It waits up to 3 s for them to go (a tracker
// removes a dead parent's sets asynchronously), reports each leaked set,
// and removes it so one leak does not cascade into other tests.
//
// Sets cannot be told apart by test within one process, so while other
// tests that called Check run in parallel (t.Parallel), a set left at the
// end of one may be another's: it is then neither reported nor removed
// until the last of them ends, which reports those still there.
func Check(t testing.TB) {
	t.Helper()
	before := map[int]bool{}
	sets, err := semlock.List()
	if err != nil {
		t.Fatalf("leakcheck: %v", err)
	}
	for _, in := range sets {
		before[in.ID] = true
	}
	mu.Lock()
	active++
	mu.Unlock()
	t.Cleanup(func() {
		var leaked []semlock.Info
		for deadline := time.Now().Add(3 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			leaked = Leaked(before)
			mu.Lock()
			alone := active == 1
			mu.Unlock()
			if len(leaked) == 0 || !alone || time.Now().After(deadline) {
				break
			}
		}
		mu.Lock()
		active--
		if active > 0 {
			for _, in := range leaked {
				pending[in.ID] = in
			}
			mu.Unlock()
			return
		}
		left := pending
		pending = map[int]semlock.Info{}
		mu.Unlock()
		for _, in := range leaked {
			left[in.ID] = in
		}
		still := map[int]uint32{} // id → token: the same set, not a newer one
		if sets, err := semlock.List(); err == nil {
			for _, in := range sets {
				still[in.ID] = in.Token
			}
		}
		for id, in := range left {
			if tok, ok := still[id]; !ok || tok != in.Token {
				continue
			}
			t.Errorf("leakcheck: set %d (%v, max %d, creator pid %d) left behind", in.ID, in.Kind, in.MaxValue, in.Creator)
			semlock.RemoveID(in.ID)
		}
	})
}

// Leaked returns the sets not in before that this process, a tracked pid
// or a live descendant created.
func Leaked(before map[int]bool) []semlock.Info {
	sets, err := semlock.List()
	if err != nil {
		return nil
	}
	var out []semlock.Info
	for _, in := range sets {
		if !before[in.ID] && Mine(in.Creator) {
			out = append(out, in)
		}
	}
	return out
}

// Mine reports whether pid is this process, a tracked pid, or a live
// descendant of this process.
func Mine(pid int) bool {
	self := os.Getpid()
	mu.Lock()
	t := tracked[pid]
	mu.Unlock()
	if pid == self || t {
		return true
	}
	for i := 0; i < 64 && pid > 1; i++ {
		pid = parent(pid)
		if pid == self {
			return true
		}
		mu.Lock()
		t = tracked[pid]
		mu.Unlock()
		if t {
			return true
		}
	}
	return false
}

func parent(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	fs := strings.Fields(s[i+1:])
	if len(fs) < 2 {
		return 0
	}
	p, _ := strconv.Atoi(fs[1])
	return p
}
