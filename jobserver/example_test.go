//go:build linux

package jobserver_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"

	"github.com/poolrun/poolrun/jobserver"
	"github.com/poolrun/poolrun/slots"
)

// A make run under a jobserver backed by a cap of 4: make, started on
// one unit of the cap, runs at most 4 recipes at once, and every unit its
// tree took is back in the cap when the Server is closed.
func ExampleServe() {
	c, err := slots.New(4) // needs spawn.Dispatch in main (see package spawn)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	job, _ := c.Acquire(context.Background()) // the unit make itself runs on
	defer job.Release()
	s, err := jobserver.Serve(c, jobserver.Pipe, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	cmd := exec.Command("make", "-s", "-f", "/dev/null", "--eval", "all: a b", "--eval", "a b: ; @true")
	cmd.ExtraFiles = s.Files()                 // descriptors 3 and 4
	cmd.Env = s.Env(os.Environ(), 3, c.Size()) // MAKEFLAGS= -j4 --jobserver-auth=3,4
	err = cmd.Run()
	fmt.Println("make:", err, s.Close())
	// Output: make: <nil> <nil>
}

// A Go program started by make -jN (in a + recipe) takes its slots
// from make: the first is its implicit token, the others bytes of make's
// jobserver, written back on Release.
func ExampleClientFromEnv() {
	c, err := jobserver.ClientFromEnv(nil)
	if err != nil {
		fmt.Println("no jobserver:", err == jobserver.ErrNoJobserver)
		return
	}
	defer c.Close()
	s, _, _ := c.TryAcquire()
	defer s.Release()
}
