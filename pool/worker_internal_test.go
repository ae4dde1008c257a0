package pool

import (
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
)

// TestRevokedFirstTaskTimeout: a task taken back after it became its
// worker's first (its Timeout clock started) loses that clock: it would
// otherwise fire while the task waits in the queue or runs elsewhere,
// failing it early. The worker's next task gets the clock instead.
func TestRevokedFirstTaskTimeout(t *testing.T) {
	p := &Pool{cfg: config{timeout: time.Hour}, log: hclog.NewNullLogger()}
	w := &worker{p: p, wake: make(chan struct{}, 1)}
	c1 := &call{seq: 1, name: "a", state: stateSent, worker: w, done: make(chan struct{})}
	c2 := &call{seq: 2, name: "b", state: stateSent, worker: w, done: make(chan struct{})}
	p.mu.Lock()
	w.inflight = []*call{c1, c2}
	p.running = 2
	p.headLocked(w)
	p.mu.Unlock()
	if c1.timer == nil {
		t.Fatal("the first task has no Timeout clock")
	}
	p.revoked(w, 1)
	p.mu.Lock()
	defer p.mu.Unlock()
	if c1.timer != nil {
		t.Error("the revoked task kept its Timeout clock")
	}
	if c2.timer == nil {
		t.Error("the worker's new first task has no Timeout clock")
	} else {
		c2.timer.Stop()
	}
	if p.queued != 1 || c1.state != stateQueued || c1.worker != nil {
		t.Errorf("revoked task not queued again: queued %d, state %d", p.queued, c1.state)
	}
}
