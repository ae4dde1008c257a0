package pool

import (
	"context"
	"fmt"
	"sync"
)

// handler runs one task in a worker: bytes in, bytes out.
type handler func(ctx context.Context, in []byte) ([]byte, error)

var registry = struct {
	sync.RWMutex
	tasks map[string]handler
	inits map[string]func(context.Context) error
}{tasks: map[string]handler{}, inits: map[string]func(context.Context) error{}}

func checkName(what, name string) {
	if name == "" || len(name) > 255 {
		panic(fmt.Sprintf("pool: %s name %q: want 1 to 255 bytes", what, name))
	}
}

// Register registers a task that takes and returns raw bytes under name.
// Like Define, call it before Dispatch (at package level, or in main
// before it), so that the workers have it too. A duplicate or empty name
// panics: it is a programmer error.
func Register(name string, fn func(ctx context.Context, in []byte) ([]byte, error)) {
	checkName("task", name)
	if fn == nil {
		panic("pool: Register " + name + ": nil function")
	}
	registry.Lock()
	defer registry.Unlock()
	if _, dup := registry.tasks[name]; dup {
		panic("pool: task " + name + " registered twice")
	}
	registry.tasks[name] = fn
}

func registered(name string) bool {
	_, ok := lookup(name)
	return ok
}

func lookup(name string) (handler, bool) {
	registry.RLock()
	h, ok := registry.tasks[name]
	registry.RUnlock()
	return h, ok
}

// Task is a task function registered under a name, with typed input and
// output encoded by a codec. Submit, Call and Map run it in a Pool's
// workers.
type Task[In, Out any] struct {
	name  string
	codec Codec
}

// TaskOption configures Define. A nil TaskOption is ignored.
type TaskOption func(*taskOptions)

type taskOptions struct{ codec Codec }

// WithCodec makes a task encode its input and output with c instead of
// JSON. An input or output of type []byte is never encoded: it passes
// through untouched whatever the codec. A nil c makes Define panic, like
// its other programmer errors.
func WithCodec(c Codec) TaskOption { return func(o *taskOptions) { o.codec = c } }

// Define registers fn as the task name and returns its typed handle.
// Call it before Dispatch, typically in a package-level var, so that the
// workers — re-execs of this binary — register it too:
//
//	var square = pool.Define("square", func(ctx context.Context, n int) (int, error) {
//		return n * n, nil
//	})
//
// In and Out are encoded with JSON unless WithCodec says otherwise; a
// []byte passes through untouched. A duplicate or empty name, a nil fn
// or a nil codec panics.
func Define[In, Out any](name string, fn func(ctx context.Context, in In) (Out, error), opts ...TaskOption) *Task[In, Out] {
	o := taskOptions{codec: JSON}
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	if fn == nil {
		panic("pool: Define " + name + ": nil function")
	}
	if o.codec == nil {
		panic("pool: Define " + name + ": WithCodec(nil): a task needs a codec (JSON is the default)")
	}
	c := o.codec
	Register(name, func(ctx context.Context, b []byte) ([]byte, error) {
		in, err := decode[In](c, b)
		if err != nil {
			return nil, fmt.Errorf("decode input: %w", err)
		}
		out, err := fn(ctx, in)
		if err != nil {
			return nil, err
		}
		ob, err := encode(c, out)
		if err != nil {
			return nil, fmt.Errorf("encode output: %w", err)
		}
		return ob, nil
	})
	return &Task[In, Out]{name: name, codec: c}
}

// Name returns the name the task is registered under.
func (t *Task[In, Out]) Name() string { return t.name }

// Initializer is a function every worker runs once when it starts, before
// its first task (opening a database, loading a model). Make one with
// DefineInit and pass it to New with Init.
type Initializer struct{ name string }

// DefineInit registers fn as a worker initializer under name. Like
// Define, call it before Dispatch. A worker whose initializer returns an
// error exits: New returns that error, and a replacement that fails so
// is retried a few times before the pool gives up (ErrWorkerStart).
func DefineInit(name string, fn func(ctx context.Context) error) Initializer {
	checkName("initializer", name)
	if fn == nil {
		panic("pool: DefineInit " + name + ": nil function")
	}
	registry.Lock()
	defer registry.Unlock()
	if _, dup := registry.inits[name]; dup {
		panic("pool: initializer " + name + " registered twice")
	}
	registry.inits[name] = fn
	return Initializer{name: name}
}
