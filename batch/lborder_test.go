package batch

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/poolrun/poolrun/internal/leakcheck"
)

// gateWriter collects what is written and creates gate once it has seen
// want.
type gateWriter struct {
	mu   sync.Mutex
	b    strings.Builder
	want string
	gate string
}

func (w *gateWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.b.Write(p)
	if w.gate != "" && strings.Contains(w.b.String(), w.want) {
		os.WriteFile(w.gate, nil, 0o644)
		w.gate = ""
	}
	return len(p), nil
}

// With KeepOrder and LineBuffered (-k --lb) the first job's lines print
// while it runs — it waits for a file that is made only once its first
// line is out — and a later job that ended first prints after it.
func TestRunKeepOrderLineBuffered(t *testing.T) {
	leakcheck.Check(t)
	gate := filepath.Join(t.TempDir(), "gate")
	w := &gateWriter{want: "start 1\n", gate: gate}
	script := `if [ "$1" = 1 ]; then echo start 1; while [ ! -e "$2" ]; do sleep 0.01; done; echo end 1; else echo two; echo two err >&2; fi`
	// Held back, job 1 would wait for ever: ctx ends it, and the test fails.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	r := runSpec(t, ctx, Spec{
		Command: []string{"sh", "-c", script, "sh", "{}", gate}, Inputs: Args("1", "2"),
		Jobs: 2, KeepOrder: true, Output: LineBuffered, Stdout: w,
	})
	if r.err != nil || w.b.String() != "start 1\nend 1\ntwo\n" || r.stderr != "two err\n" {
		t.Errorf("err %v stdout %q stderr %q; want start 1, end 1, two", r.err, w.b.String(), r.stderr)
	}
}
