//go:build linux

package integration

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/poolrun/poolrun/internal/leakcheck"
)

// poolrun sem run hands the terminal to its command: a command that sets
// the terminal's modes and reads it (as ffmpeg and editors do) runs to the
// end instead of being stopped by SIGTTOU/SIGTTIN, though it is in a
// process group of its own. script(1) gives the run a terminal.
func TestSemRunTerminal(t *testing.T) {
	leakcheck.Check(t)
	scriptCmd, err := exec.LookPath("script")
	if err != nil {
		t.Skip("script(1) not found: no pseudo-terminal to test sem run on")
	}
	name := fmt.Sprintf("poolrun-it-semtty-%d", os.Getpid())
	t.Cleanup(func() { poolrun(t, runOpts{}, "sem", "rm", name) })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	inner := bin + " sem run " + name + ` -j 1 -- sh -c 'stty -echo; stty echo; read x; echo got=$x'`
	cmd := exec.CommandContext(ctx, scriptCmd, "-qec", inner, "/dev/null")
	cmd.Stdin = strings.NewReader("hi\n")
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("sem run with a command that uses the terminal did not finish in 30 s (stopped by SIGTTOU/SIGTTIN?): %q", out)
	}
	if err != nil || !strings.Contains(string(out), "got=hi") {
		t.Errorf("sem run: %v, output %q: want got=hi", err, out)
	}
}
