package main

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
)

// A SysV set stores a fingerprint of its name, not the name, so poolrun
// remembers the names it opened in a small per-user file: poolrun sem ls
// shows them next to their sets (a name is shown only if it still leads to
// that set).

// namesFile is the per-user list of set names poolrun has opened.
func namesFile() string {
	dir := os.Getenv("XDG_RUNTIME_DIR")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "poolrun-"+strconv.Itoa(os.Geteuid()))
	}
	return filepath.Join(dir, "poolrun-sem-names")
}

// recordName adds name to the names file if it is not there yet. It is
// best effort: a failure only means sem ls shows no name for the set.
func recordName(name string) {
	for _, n := range knownNames() {
		if n == name {
			return
		}
	}
	p := namesFile()
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return
	}
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return
	}
	f.WriteString(name + "\n")
	f.Close()
}

// knownNames returns the names in the names file.
func knownNames() []string {
	f, err := os.Open(namesFile())
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if t := sc.Text(); t != "" {
			out = append(out, t)
		}
	}
	return out
}
