// Package e2e runs poolrun and poolrun-etcd, built for the test, against a
// real (embedded) etcd.
package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/poolrun/poolrun/etcd/internal/etcdtest"
	"github.com/poolrun/poolrun/pool"
)

// bin is where poolrun and poolrun-etcd are, side by side, as installed.
var bin string

func TestMain(m *testing.M) {
	pool.Dispatch() // a pool worker of the pool tests runs here
	etcdtest.ServeIfMember()
	if os.Getenv("E2E_HELPER") == "pool" {
		poolServiceMain()
	}
	dir, err := os.MkdirTemp("", "poolrun-etcd-e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin = dir
	// Each from its own module, as users build them: poolrun from the
	// repository's root (two up), poolrun-etcd from this one.
	for _, p := range [][3]string{{"poolrun", "../..", "./cmd/poolrun"}, {"poolrun-etcd", "..", "./cmd/poolrun-etcd"}} {
		out, err := exec.Command("go", "build", "-C", p[1], "-o", filepath.Join(dir, p[0]), p[2]).CombinedOutput()
		if err != nil {
			fmt.Fprintf(os.Stderr, "building %s: %v\n%s", p[0], err, out)
			os.RemoveAll(dir)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// poolrun is a command running the poolrun built for the test.
func poolrun(env []string, args ...string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(bin, "poolrun"), args...)
	cmd.Env = append(os.Environ(), env...)
	return cmd
}

// result runs cmd and returns its stdout, stderr and exit status.
func result(t *testing.T, cmd *exec.Cmd) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

// waitFor polls cond (a fact) until it holds, failing after a minute: a
// bound against hangs, not a timing assertion.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(time.Minute); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("still waiting for %s after a minute", what)
		}
	}
}
