package slots_test

import (
	"context"
	"fmt"

	"github.com/poolrun/poolrun/slots"
)

// At most two of the five tasks hold a slot at once.
func Example() {
	c, err := slots.New(2) // a private cap: removed by Close (or the tracker)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	done := make(chan int)
	for i := range 5 {
		go func() {
			s, err := c.Acquire(context.Background())
			if err != nil {
				fmt.Println(err)
				return
			}
			defer s.Release()
			done <- i // at most two tasks are here at once
		}()
	}
	sum := 0
	for range 5 {
		sum += <-done
	}
	fmt.Println("size", c.Size(), "sum", sum)
	// Output: size 2 sum 10
}
