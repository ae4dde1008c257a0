package main

import (
	"errors"
	"testing"

	"github.com/poolrun/poolrun/jobserver"
)

func TestParseJobserverFlags(t *testing.T) {
	for _, c := range []struct {
		args []string
		want jobserver.Style
	}{
		{[]string{"echo"}, jobserver.Pipe},
		{[]string{"--jobserver-style=fifo", "echo"}, jobserver.Fifo},
		{[]string{"--jobserver-style", "pipe", "echo"}, jobserver.Pipe},
		{[]string{"--no-jobserver", "echo"}, jobserver.Off},
	} {
		o, err := parseArgs(c.args)
		if err != nil || o.jobserver != c.want {
			t.Errorf("parseArgs(%q): %v %v, want %v", c.args, o.jobserver, err, c.want)
		}
	}
	for _, args := range [][]string{{"--jobserver-style=off", "echo"}, {"--jobserver-style", "sem", "echo"}, {"--jobserver-style"}} {
		_, err := parseArgs(args)
		var ue *usageError
		if !errors.As(err, &ue) {
			t.Errorf("parseArgs(%q): %v, want a usage error", args, err)
		}
	}
}
