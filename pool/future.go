package pool

import (
	"context"
	"iter"
)

// Future is the result of a submitted task, available once Done is
// closed. It is safe for concurrent use.
type Future[T any] struct {
	c     *call
	codec Codec
}

// Done is closed when the task has finished: with its result, its error,
// or its ctx's error as soon as its ctx is done.
func (f *Future[T]) Done() <-chan struct{} { return f.c.done }

// Get waits for the task and returns its output or error. It does not
// outlive the ctx the task was submitted with: when that ctx is done,
// Get returns its error at once.
func (f *Future[T]) Get() (T, error) {
	<-f.c.done
	return result[T](f.c, f.codec)
}

func result[T any](c *call, codec Codec) (T, error) {
	if c.err != nil {
		var zero T
		return zero, c.err
	}
	v, err := decode[T](codec, c.out)
	if err != nil {
		return v, &TaskError{Task: c.name, Seq: c.seq, Err: ErrEncode, Msg: "decode output: " + err.Error()}
	}
	return v, nil
}

// Submit queues the task with input in and returns at once. ctx bounds
// the task: when it is done the task fails with ctx's error, and the
// worker running it is told (and stopped if it does not return within
// CancelGrace). Misuse — an input the codec cannot encode, a closed
// pool — gives a Future that has already failed.
func (t *Task[In, Out]) Submit(ctx context.Context, p *Pool, in In) *Future[Out] {
	return &Future[Out]{c: t.submit(ctx, p, in, nil, 0), codec: t.codec}
}

func (t *Task[In, Out]) submit(ctx context.Context, p *Pool, in In, notify chan<- *call, idx int) *call {
	b, err := encode(t.codec, in)
	if err != nil {
		c := &call{name: t.name, done: make(chan struct{}), notify: notify, idx: idx}
		p.finish1(c, nil, &TaskError{Task: t.name, Err: ErrEncode, Msg: "encode input: " + err.Error()})
		return c
	}
	return p.submit(ctx, t.name, true, b, notify, idx)
}

// Call runs the task with input in and waits for its output: Submit then
// Get.
func (t *Task[In, Out]) Call(ctx context.Context, p *Pool, in In) (Out, error) {
	return t.Submit(ctx, p, in).Get()
}

// Submit queues the task registered as name (see Register) with raw
// input in. An unknown name gives a Future that has already failed with
// ErrUnknownTask.
func (p *Pool) Submit(ctx context.Context, name string, in []byte) *Future[[]byte] {
	return &Future[[]byte]{c: p.submit(ctx, name, false, in, nil, 0), codec: JSON}
}

// Result is one output of Map: the position of its input, and the
// task's output or error.
type Result[T any] struct {
	Index int   // the input's position in Map's inputs, from 0
	Value T     // the task's output, when Err is nil
	Err   error // the task's error, a *TaskError
}

// MapOption configures Map. A nil MapOption is ignored.
type MapOption func(*mapOptions)

type mapOptions struct {
	unordered bool
	window    int
}

// Unordered makes Map yield results as tasks finish rather than in input
// order.
func Unordered() MapOption { return func(o *mapOptions) { o.unordered = true } }

// Window sets how many of Map's tasks may be submitted and unfinished at
// once (default: enough to keep every worker busy); the inputs are read
// no further ahead than that. A window below 1 is 1: Map has no error of
// its own to report it with.
func Window(n int) MapOption { return func(o *mapOptions) { o.window = max(1, n) } }

// Map runs the task on every input and yields the results, in input
// order unless Unordered is given. It reads inputs only as results are
// consumed (at most Window ahead): a stream with back-pressure. A failed
// task yields its error and the stream goes on; stopping the iteration
// early cancels the tasks still in flight (those given ahead to workers
// are dropped there at once; those running see their ctx cancelled). When ctx ends, Map reads no
// more inputs: it yields the tasks in flight (with ctx's error) and ends.
// Map on a closed pool yields one ErrClosed result.
func (t *Task[In, Out]) Map(ctx context.Context, p *Pool, inputs iter.Seq[In], opts ...MapOption) iter.Seq[Result[Out]] {
	o := mapOptions{window: p.cfg.workers * 2 * maxDepth}
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	return func(yield func(Result[Out]) bool) {
		next, stop := iter.Pull(inputs)
		defer stop()
		var notify chan *call
		if o.unordered {
			notify = make(chan *call, o.window)
		}
		// The tasks in flight: ordered, in input order; unordered, as a
		// set. If the loop stops early they are cancelled here, rather
		// than each watching a ctx of Map's own: that costs a third of
		// a microsecond a task.
		var pending []*call
		var live map[*call]struct{}
		if o.unordered {
			live = map[*call]struct{}{}
		}
		defer func() {
			for _, c := range pending {
				p.cancelCall(c, context.Canceled)
			}
			for c := range live {
				p.cancelCall(c, context.Canceled)
			}
		}()
		inflight, idx, more := 0, 0, true
		for {
			for more && inflight < o.window {
				if ctx.Err() != nil {
					more = false // cancelled: read no further, yield what is in flight
					break
				}
				in, ok := next()
				if !ok {
					more = false
					break
				}
				c := t.submit(ctx, p, in, notify, idx)
				idx++
				inflight++
				if o.unordered {
					live[c] = struct{}{}
				} else {
					pending = append(pending, c)
				}
				select {
				case <-c.done:
					if isClosed(c.err) {
						more = false // the pool closed: read no further
					}
				default:
				}
			}
			if inflight == 0 {
				return
			}
			var c *call
			if o.unordered {
				c = <-notify
				delete(live, c)
			} else {
				c = pending[0]
				pending[0] = nil
				pending = pending[1:]
				<-c.done
			}
			inflight--
			r := Result[Out]{Index: c.idx}
			r.Value, r.Err = result[Out](c, t.codec)
			if !yield(r) {
				return
			}
		}
	}
}

func isClosed(err error) bool {
	te, ok := err.(*TaskError)
	return ok && te.Err == ErrClosed
}
