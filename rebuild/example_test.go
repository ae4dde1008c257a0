package rebuild_test

import (
	"fmt"
	"os"

	"github.com/poolrun/poolrun/rebuild"
	"github.com/poolrun/poolrun/semlock"
)

// A parent encodes the handles it shares; the value goes into the child's
// environment as POOLRUN_SEMLOCKS.
func ExampleEncode() {
	v, err := rebuild.Encode(map[string]semlock.Handle{
		"slots": {ID: 32769, Kind: semlock.Semaphore, MaxValue: 4, Undo: true, Creator: 1234, Token: 987654321},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(rebuild.EnvVar + "=" + v)
	// Output: POOLRUN_SEMLOCKS=v1;slots=0,32769,s,4,u,1234,987654321
}

// A child reattaches what its parent shared, early in main.
func ExampleFromEnv() {
	set, err := rebuild.FromEnv()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer set.Close()
	if slots, ok := set.Lookup("slots"); ok {
		_ = slots // slots.Acquire(ctx) ... slots.Release()
	}
	fmt.Println(set.Names())
	// Output: []
}

func ExampleDecode() {
	_, err := rebuild.Decode("v1;slots=0,32769,s,40000,u,1234,987654321")
	fmt.Println(err)
	// Output: rebuild: POOLRUN_SEMLOCKS: handle "slots": field max: "40000" outside 1..32767
}
