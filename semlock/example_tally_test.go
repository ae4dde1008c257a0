package semlock_test

import (
	"context"
	"fmt"

	"github.com/poolrun/poolrun/semlock"
)

// GNU sem's semaphore: run while fewer than 2 run, then let the last one
// out remove the set.
func ExampleTally() {
	c, err := semlock.OpenTally("example-tally")
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := c.Enter(context.Background(), 2); err != nil {
		fmt.Println(err)
		return
	}
	n, _ := c.Holders()
	fmt.Println("holders:", n)
	// ... the work ...
	c.Leave()
	removed, _ := c.RemoveIfIdle()
	fmt.Println("removed:", removed)
	// Output:
	// holders: 1
	// removed: true
}
