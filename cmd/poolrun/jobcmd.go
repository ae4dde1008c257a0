package main

import (
	"context"

	"github.com/poolrun/poolrun/spawn"
)

// newJobCmd makes a job's process: its own process group, killed with
// poolrun (PDEATHSIG, and the tracker kills its group if poolrun is
// SIGKILLed), stopped (TERM to the group, WaitDelay, KILL) when ctx is
// done.
func newJobCmd(ctx context.Context, path string, argv []string) *spawn.Cmd {
	c := spawn.Command(ctx, path, argv[1:]...)
	c.Args[0] = argv[0]
	return c
}
