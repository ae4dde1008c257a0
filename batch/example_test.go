package batch_test

import (
	"context"
	"fmt"
	"os"

	"github.com/poolrun/poolrun/batch"
)

// Three jobs, two at a time, their output in input order. (The program
// must call spawn.Dispatch first thing in main; this test binary does.)
func Example() {
	sum, err := batch.Run(context.Background(), batch.Spec{
		Command:   []string{"echo", "hello", "{}"},
		Inputs:    batch.Args("alpha", "bravo", "charlie"),
		Jobs:      2,
		KeepOrder: true,
		Stdout:    os.Stdout,
		Stderr:    os.Stderr,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(sum.Started, "jobs,", sum.Failed, "failed")
	// Output:
	// hello alpha
	// hello bravo
	// hello charlie
	// 3 jobs, 0 failed
}
