package batch_test

import (
	"context"
	"fmt"
	"io"
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

// Each input is a whole command line (Argv), run as execvp would, and
// Ended stops the batch at the first command that exits 255, as GNU
// xargs does: the commands after it never start.
func ExampleSpec_ended() {
	lines := [][]string{{"echo", "one"}, {"sh", "-c", "exit 255"}, {"echo", "never"}}
	sum, err := batch.Run(context.Background(), batch.Spec{
		Argv:   true,
		Inputs: &rows{lines},
		Jobs:   1,
		Output: batch.Ungrouped,
		Stdout: os.Stdout,
		Ended: func(e batch.JobEnd) bool {
			if e.Exit == 255 {
				fmt.Printf("%s: exited with status 255; stopping\n", e.Argv[0])
				return true
			}
			return false
		},
	})
	fmt.Println(sum.Started, "started, halted:", sum.Halted, err)
	// Output:
	// one
	// sh: exited with status 255; stopping
	// 2 started, halted: true <nil>
}

// rows is a Source of whole command lines.
type rows struct{ left [][]string }

func (r *rows) Next() ([]string, error) {
	if len(r.left) == 0 {
		return nil, io.EOF
	}
	l := r.left[0]
	r.left = r.left[1:]
	return l, nil
}

// GNU parallel's -X: as many inputs per job as fit on a line under 21
// bytes (the shell line, as GNU parallel counts it), a word with {}
// repeated for each.
func ExamplePacking() {
	batch.Run(context.Background(), batch.Spec{
		Command:   []string{"echo", "<{}>"},
		Inputs:    batch.Args("a", "b", "c", "d", "e"),
		Pack:      &batch.Packing{MaxChars: 21, Context: true},
		Jobs:      1,
		KeepOrder: true,
		Stdout:    os.Stdout,
	})
	// Output:
	// <a> <b> <c> <d>
	// <e>
}
