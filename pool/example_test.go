package pool_test

import (
	"context"
	"fmt"
	"slices"

	"github.com/poolrun/poolrun/pool"
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
