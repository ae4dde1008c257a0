package pool_test

import (
	"context"
	"testing"

	"github.com/poolrun/poolrun/pool"
)

// TaskError's message names the task, its number, the worker and what
// happened; a panic's stack stays in Stack, out of the message (with real
// processes: TestPanicReturnsValueAndStack).
func TestTaskErrorMessage(t *testing.T) {
	const stack = "goroutine 7 [running]:\nmain.panicHere(...)\n\t/src/main.go:12 +0x25\n"
	for _, c := range []struct {
		te   *pool.TaskError
		want string
	}{
		{&pool.TaskError{Task: "panic", Seq: 3, Worker: 4711, Err: pool.ErrPanic, Msg: "boom", Stack: stack},
			`pool: task "panic" #3 (worker pid 4711): task panicked: boom`},
		{&pool.TaskError{Task: "fail", Seq: 4, Worker: 4711, Err: pool.ErrRemote, Msg: "no such file"},
			`pool: task "fail" #4 (worker pid 4711): no such file`},
		{&pool.TaskError{Task: "crash", Seq: 5, Worker: 4712, Err: pool.ErrWorkerDied, Msg: "signal: killed"},
			`pool: task "crash" #5 (worker pid 4712): worker died: signal: killed`},
		{&pool.TaskError{Task: "sleep", Err: context.Canceled},
			`pool: task "sleep": context canceled`},
	} {
		if got := c.te.Error(); got != c.want {
			t.Errorf("%+v: message %q, want %q", c.te, got, c.want)
		}
	}
}
