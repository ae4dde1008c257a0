package batch_test

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/poolrun/poolrun/batch"
)

// Ten lines, three records (lines) a block, each block counted by its own
// wc -l: GNU parallel's seq 10 | parallel -k --pipe -N 3 wc -l.
func ExamplePipe() {
	_, err := batch.Run(context.Background(), batch.Spec{
		Command:   []string{"wc", "-l"},
		Stdin:     strings.NewReader("1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n"),
		Pipe:      &batch.Pipe{Records: 3},
		Jobs:      2,
		KeepOrder: true,
		Stdout:    os.Stdout,
	})
	if err != nil {
		fmt.Println(err)
	}
	// Output:
	// 3
	// 3
	// 3
	// 1
}
