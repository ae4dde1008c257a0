//go:build linux

package integration

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/poolrun/poolrun/internal/leakcheck"
)

// A read error on stdin (here: stdin is a directory) runs no job: exit
// 255 with the error, not an empty input.
func TestInputReadError(t *testing.T) {
	leakcheck.Check(t)
	t.Parallel()
	dir := t.TempDir()
	marker := filepath.Join(dir, "ran")
	d, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	cmd := exec.Command(bin, "-q", "sh", "-c", `touch "$0"`, marker)
	cmd.Stdin = d
	var errb bytes.Buffer
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	leakcheck.Track(cmd.Process.Pid)
	cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != 255 || !strings.Contains(errb.String(), "reading inputs") {
		t.Errorf("stdin a directory: exit %d, stderr %q; want 255 and the read error", code, errb.String())
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("a job ran for an input that could not be read")
	}
}
