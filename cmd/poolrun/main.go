package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/hashicorp/go-hclog"
	"github.com/poolrun/poolrun/spawn"
)

// version is poolrun's version.
const version = "poolrun 0.1.0"

func main() {
	spawn.Dispatch() // the tracker, when this binary is re-exec'd as it
	switch filepath.Base(os.Args[0]) {
	case "sem":
		os.Exit(gnuSemMain(os.Args[1:]))
	case "xargs":
		os.Exit(xargsMain(os.Args[1:]))
	}
	os.Exit(poolrun(os.Args[1:]))
}

// poolrun runs the command line args and returns the exit status.
func poolrun(args []string) int {
	if len(args) > 0 && args[0] == "sem" {
		return semMain(args[1:], newLogger())
	}
	if wantsSemaphore(args) {
		return gnuSemMain(args)
	}
	if env := os.Getenv("PARALLEL"); env != "" && (len(args) == 0 || args[0] != "sem") {
		words, err := envOptions(env)
		if err != nil {
			return fail(err)
		}
		args = append(words, args...)
	}
	o, err := parseArgs(args)
	if err != nil {
		return fail(err)
	}
	switch {
	case o.help:
		fmt.Print(helpText)
		return 0
	case o.version:
		fmt.Println(version)
		return 0
	case o.info != "":
		fmt.Println(o.info)
		return o.infoStatus
	}
	return runBatch(o, newLogger())
}

// fail prints err as one line on stderr and returns 255. Bad input gets
// the usage hint.
func fail(err error) int {
	var ue *usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(os.Stderr, "poolrun: %v (%s)\n", err, usageHint)
	} else {
		fmt.Fprintf(os.Stderr, "poolrun: %v\n", err)
	}
	return 255
}

// newLogger logs to stderr at the level POOLRUN_LOG_LEVEL names (warn if
// unset or unknown).
func newLogger() hclog.Logger {
	level := hclog.LevelFromString(os.Getenv("POOLRUN_LOG_LEVEL"))
	if level == hclog.NoLevel {
		level = hclog.Warn
	}
	return hclog.New(&hclog.LoggerOptions{Name: "poolrun", Level: level, Output: os.Stderr})
}
