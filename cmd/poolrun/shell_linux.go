package main

import (
	"bytes"
	"os"
	"strconv"
	"strings"
)

// invokingShell walks up from poolrun's parent to the first process that
// is a shell, through /proc, and returns its program if it is bash or
// zsh.
func invokingShell() string {
	pid := os.Getppid()
	for depth := 0; pid > 1 && depth < 64; depth++ {
		cmdline, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
		if err != nil {
			return ""
		}
		argv0, _, _ := bytes.Cut(cmdline, []byte{0})
		if knownShell(string(argv0)) {
			if shellName(string(argv0)) == "" {
				return ""
			}
			if exe, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/exe"); err == nil && shellName(exe) != "" {
				return exe
			}
			return lookShell(shellName(string(argv0)))
		}
		stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			return ""
		}
		// pid (comm) state ppid ...: comm may hold spaces and parentheses.
		i := bytes.LastIndexByte(stat, ')')
		if i < 0 {
			return ""
		}
		f := strings.Fields(string(stat[i+1:]))
		if len(f) < 2 {
			return ""
		}
		if pid, err = strconv.Atoi(f[1]); err != nil {
			return ""
		}
	}
	return ""
}
