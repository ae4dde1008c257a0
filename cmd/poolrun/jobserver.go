package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/hashicorp/go-hclog"
	"github.com/poolrun/poolrun/jobserver"
	"github.com/poolrun/poolrun/slots"
)

// jobserverClient is the cap of a poolrun started under a make (or
// cargo) jobserver — a + recipe, or any recipe in fifo style: a client
// of it, whose first slot is the recipe's implicit token and every
// further one a token read from make (docs/jobserver.md). It comes
// before an inherited poolrun cap: in poolrun → make → poolrun, make's
// jobserver is the nearer, and the outer job's unit is the one make
// runs on. nil if there is none, or --no-jobserver; a jobserver that
// MAKEFLAGS names but that cannot be used is a one-line warning, and
// poolrun runs with its own cap, as make does then.
func jobserverClient(o *options, log hclog.Logger) slots.Cap {
	if o.jobserver == jobserver.Off || jobserver.ServedByParent(nil) {
		return nil // a poolrun job's own child: its cap is the parent's (slots.FromEnv)
	}
	c, err := jobserver.ClientFromEnv(nil)
	switch {
	case errors.Is(err, jobserver.ErrNoJobserver):
		return nil
	case err != nil:
		fmt.Fprintf(os.Stderr, "poolrun: warning: %s; running with poolrun's own cap\n", strings.TrimPrefix(err.Error(), "jobserver: "))
		return nil
	}
	log.Debug("a client of make's jobserver", "auth", c.Auth().Word, "size", c.Size())
	return c
}
