package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// jobShell is the shell that runs the jobs' shell code, chosen as GNU
// parallel chooses it: $PARALLEL_SHELL if set; else the shell poolrun was
// started from (its nearest ancestor that is a shell) when that is bash
// or zsh, so that functions exported from it (export -f) and its syntax
// work; else /bin/sh, the fastest to start.
func jobShell() (string, error) {
	if s := os.Getenv("PARALLEL_SHELL"); s != "" {
		p, err := exec.LookPath(s)
		if err != nil {
			return "", fmt.Errorf("$PARALLEL_SHELL %q: shell not found: set it to a shell's path (PARALLEL_SHELL=/bin/bash) or unset it", s)
		}
		return p, nil
	}
	if p := invokingShell(); p != "" {
		return p, nil
	}
	return "", nil // batch's default, /bin/sh
}

// shellName is the shell a process's argv[0] names ("bash", "-zsh",
// "/usr/bin/bash"), if it is bash or zsh; "" otherwise.
func shellName(argv0 string) string {
	name := strings.TrimPrefix(filepath.Base(argv0), "-")
	switch name {
	case "bash", "zsh":
		return name
	}
	return ""
}

// knownShell reports whether argv0 names a shell of any kind: the search
// for the invoking shell stops at the first one (a bash started from a
// dash script is not the script's shell).
func knownShell(argv0 string) bool {
	switch strings.TrimPrefix(filepath.Base(argv0), "-") {
	case "ash", "bash", "csh", "dash", "fish", "ksh", "ksh93", "lksh", "mksh", "pdksh", "posh", "rbash", "sh", "tcsh", "yash", "zsh":
		return true
	}
	return false
}

// lookShell is the path of the shell name ("" stays "").
func lookShell(name string) string {
	if name == "" {
		return ""
	}
	p, err := exec.LookPath(name)
	if err != nil {
		return ""
	}
	return p
}
