//go:build linux

package jobserver_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/poolrun/poolrun/jobserver"
	"github.com/poolrun/poolrun/slots"
	"github.com/poolrun/poolrun/spawn"
)

func TestMain(m *testing.M) {
	spawn.Dispatch() // the tracker of the tests' caps and fifos, when re-exec'd as it
	if os.Getenv("JOBSERVER_TEST_CLIENT") != "" {
		os.Exit(clientMain())
	}
	os.Exit(m.Run())
}

// tokenMain takes every real token it can with AcquireToken (never the
// implicit one, which stays free), each wait bounded by 300 ms, prints
// how many, and gives them back with GiveBack.
func tokenMain(c *jobserver.Client) int {
	var got []byte
	for len(got) < 64 {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		b, err := c.AcquireToken(ctx)
		cancel()
		if err != nil {
			fmt.Println("then:", err)
			break
		}
		got = append(got, b)
	}
	fmt.Println("tokens:", len(got))
	for _, b := range got {
		if err := c.GiveBack(b); err != nil {
			fmt.Println("error:", err)
		}
	}
	if err := c.Close(); err != nil {
		fmt.Println("error:", err)
	}
	return 0
}

// clientMain is the test binary run as a jobserver client (by make): it
// takes every slot it can have without waiting, up to 64, prints how
// many, and gives them back. With JOBSERVER_TEST_CLIENT=hold it then
// waits for a line on stdin before it gives them back; with =wait it
// waits for one slot more (Acquire), which a line on stdin cancels.
func clientMain() int {
	c, err := jobserver.ClientFromEnv(nil)
	if err != nil {
		fmt.Println("error:", err)
		return 0
	}
	if os.Getenv("JOBSERVER_TEST_CLIENT") == "token" {
		return tokenMain(c)
	}
	var held []slots.Slot
	for len(held) < 64 {
		s, ok, err := c.TryAcquire()
		if err != nil {
			fmt.Println("error:", err)
			return 1
		}
		if !ok {
			break
		}
		held = append(held, s)
	}
	fmt.Println("slots:", len(held))
	switch os.Getenv("JOBSERVER_TEST_CLIENT") {
	case "hold":
		bufio.NewReader(os.Stdin).ReadString('\n')
	case "wait":
		ctx, cancel := context.WithCancel(context.Background())
		go func() {
			bufio.NewReader(os.Stdin).ReadString('\n')
			cancel()
		}()
		_, err := c.Acquire(ctx)
		fmt.Println("wait:", err)
	}
	for _, s := range held {
		if err := s.Release(); err != nil {
			fmt.Println("error:", err)
		}
	}
	if err := c.Close(); err != nil {
		fmt.Println("error:", err)
	}
	return 0
}
