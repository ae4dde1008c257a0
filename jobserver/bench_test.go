//go:build linux

package jobserver_test

import (
	"context"
	"testing"

	"github.com/poolrun/poolrun/jobserver"
	"github.com/poolrun/poolrun/slots"
	"golang.org/x/sys/unix"
)

// The cost of one token, taken and given back, against poolrun's own
// cap (a SysV semaphore): go test -bench Token ./jobserver/

// BenchmarkTokenCap: a unit of a private cap.
func BenchmarkTokenCap(b *testing.B) {
	c, err := slots.New(4)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	for b.Loop() {
		s, err := c.Acquire(ctx)
		if err != nil {
			b.Fatal(err)
		}
		s.Release()
	}
}

// BenchmarkTokenClient: a byte of make's pipe (a pipe of 3 tokens here),
// the Client's implicit token held.
func BenchmarkTokenClient(b *testing.B) {
	var p [2]int
	if err := unix.Pipe(p[:]); err != nil {
		b.Fatal(err)
	}
	defer unix.Close(p[0])
	defer unix.Close(p[1])
	unix.Write(p[1], []byte("+++"))
	c, err := jobserver.Dial(jobserver.Auth{Style: jobserver.Pipe, R: p[0], W: p[1], Word: "--jobserver-auth=x"})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	implicit, _ := c.Acquire(ctx)
	defer implicit.Release()
	for b.Loop() {
		s, err := c.Acquire(ctx)
		if err != nil {
			b.Fatal(err)
		}
		s.Release()
	}
}

// BenchmarkTokenServer: a token of a Server over a private cap, taken by
// a Client of it and given back: a byte of the job's pipe, the Server
// refilling it from the cap when it empties.
func BenchmarkTokenServer(b *testing.B) {
	c, err := slots.New(4)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	s, err := jobserver.Serve(c, jobserver.Pipe, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	f := s.Files()
	cl, err := jobserver.Dial(jobserver.Auth{Style: jobserver.Pipe, R: int(f[0].Fd()), W: int(f[1].Fd()), Word: "--jobserver-auth=x"})
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	ctx := context.Background()
	implicit, _ := cl.Acquire(ctx)
	defer implicit.Release()
	for b.Loop() {
		t, err := cl.Acquire(ctx)
		if err != nil {
			b.Fatal(err)
		}
		t.Release()
	}
}
