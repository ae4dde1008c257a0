package batch

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/poolrun/poolrun/internal/leakcheck"
)

// No job starts while Ready says no; it is asked again until it says
// yes, and then the job runs.
func TestRunWaitsForReady(t *testing.T) {
	leakcheck.Check(t)
	var asked atomic.Int32
	r := runSpec(t, context.Background(), Spec{Command: []string{"echo"}, Inputs: Args("a"), Ready: func() bool {
		return asked.Add(1) > 2
	}})
	if r.err != nil || r.stdout != "a\n" || asked.Load() != 3 {
		t.Errorf("err %v stdout %q, Ready asked %d times; want the job run after the third", r.err, r.stdout, asked.Load())
	}
}
