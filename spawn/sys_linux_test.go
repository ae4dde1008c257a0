package spawn

import (
	"os/exec"
	"testing"
	"time"

	"github.com/poolrun/poolrun/internal/leakcheck"
)

// TestWaitExitPidfd: waitExit waits in the poller for a child's exit and
// leaves it unreaped (its status is still there for Wait), also for a
// child still running when the wait begins.
func TestWaitExitPidfd(t *testing.T) {
	leakcheck.Check(t)
	for _, script := range []string{"exit 3", "sleep 0.2; exit 3"} {
		c := exec.Command("sh", "-c", script)
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
		if !waitExitPidfd(c.Process.Pid) {
			t.Fatalf("%q: the pidfd wait did not work", script)
		}
		if alive(c.Process.Pid) { // a zombie is not alive
			t.Fatalf("%q: waitExit returned before the exit", script)
		}
		c.Wait()
		if c.ProcessState.ExitCode() != 3 {
			t.Fatalf("%q: status %v, want exit 3 (the wait reaped it?)", script, c.ProcessState)
		}
	}
}
