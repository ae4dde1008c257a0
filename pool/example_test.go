package pool_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	"github.com/poolrun/poolrun/pool"
	"github.com/poolrun/poolrun/semlock"
)

// Tasks are defined at package level, so that the workers — re-execs of
// this binary — have them too.
var double = pool.Define("double", func(ctx context.Context, n int) (int, error) {
	return 2 * n, nil
})

func Example() {
	// In main, first: pool.Dispatch() (here TestMain does it).
	p, err := pool.New(pool.Workers(2))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer p.Close()

	n, err := double.Call(context.Background(), p, 21)
	fmt.Println(n, err)
	// Output: 42 <nil>
}

func ExampleTask_Map() {
	p, err := pool.New(pool.Workers(2))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer p.Close()

	for r := range double.Map(context.Background(), p, slices.Values([]int{1, 2, 3})) {
		fmt.Println(r.Index, r.Value, r.Err)
	}
	// Output:
	// 0 2 <nil>
	// 1 4 <nil>
	// 2 6 <nil>
}

func ExampleTask_Submit() {
	p, err := pool.New(pool.Workers(2))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer p.Close()

	ctx := context.Background()
	a := double.Submit(ctx, p, 1)
	b := double.Submit(ctx, p, 2)
	x, _ := a.Get()
	y, _ := b.Get()
	fmt.Println(x + y)
	// Output: 6
}

// tally adds n to the number in a file: a read-modify-write that the
// pool mutex "tally" makes safe across worker processes.
var tally = pool.Define("tally", func(ctx context.Context, a struct {
	Path string
	N    int
}) (int, error) {
	mu, err := pool.Mutex(ctx, "tally")
	if err != nil {
		return 0, err
	}
	if err := mu.Acquire(ctx); err != nil && !errors.Is(err, semlock.ErrOwnerDead) {
		return 0, err
	}
	defer mu.Release()
	b, _ := os.ReadFile(a.Path)
	n, _ := strconv.Atoi(string(b))
	n += a.N
	return n, os.WriteFile(a.Path, []byte(strconv.Itoa(n)), 0o600)
})

func ExampleMutex() {
	dir, _ := os.MkdirTemp("", "tally")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "n")

	p, err := pool.New(pool.Workers(2), pool.Mutexes("tally"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer p.Close()

	type arg = struct {
		Path string
		N    int
	}
	for r := range tally.Map(context.Background(), p, slices.Values(slices.Repeat([]arg{{path, 1}}, 100)), pool.Unordered()) {
		if r.Err != nil {
			fmt.Println(r.Err)
		}
	}
	b, _ := os.ReadFile(path)
	fmt.Println(string(b))
	// Output: 100
}

func ExamplePool_Stats() {
	p, err := pool.New(pool.Workers(2), pool.MaxTasks(10))
	if err != nil {
		fmt.Println(err)
		return
	}
	for i := range 25 {
		double.Call(context.Background(), p, i)
	}
	p.Close()
	s := p.Stats()
	fmt.Println(s.Completed, s.Failed, s.Running, s.Queued, s.Workers)
	// Output: 25 0 0 0 0
}

// A service that make starts (a + recipe) takes its tasks' slots from
// make's jobserver by default; Jobserver(false) keeps the pool on its own
// workers and Limit, whatever make says.
func ExampleJobserver() {
	p, err := pool.New(pool.Workers(2), pool.Limit(2), pool.Jobserver(false))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer p.Close()

	n, err := double.Call(context.Background(), p, 4)
	fmt.Println(n, err)
	// Output: 8 <nil>
}
