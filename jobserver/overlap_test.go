//go:build linux

package jobserver_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/poolrun/poolrun/internal/spans"
)

// recScript is a recipe that records when it ran: DIR/NAME.start and
// DIR/NAME.end get the time (ns). It holds until WANT recipes have
// started (a fact, bounded by 30 s) and then HOLD seconds more, the
// window in which a recipe too many would start too.
const recScript = `#!/bin/sh
d=$1 n=$2 want=$3 hold=$4
date +%s%N > "$d/$n.start"
i=0
while [ "$(ls "$d" | grep -c '\.start$')" -lt "$want" ] && [ $i -lt 3000 ]; do sleep 0.01; i=$((i+1)); done
sleep "$hold"
date +%s%N > "$d/$n.end"
`

// recorder is a directory of recScript records.
type recorder struct{ dir, script string }

func newRecorder(t *testing.T) *recorder {
	t.Helper()
	dir := t.TempDir()
	r := &recorder{dir: filepath.Join(dir, "rec"), script: filepath.Join(dir, "rec.sh")}
	if err := os.Mkdir(r.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(r.script, []byte(recScript), 0o755); err != nil {
		t.Fatal(err)
	}
	return r
}

// cmd is the shell command that records one recipe.
func (r *recorder) cmd(name string, want int, hold string) string {
	return fmt.Sprintf("%s %s %s %d %s", r.script, r.dir, name, want, hold)
}

// result is how many recipes ended and the most that ran at once.
func (r *recorder) result(t *testing.T) (ended, most int) {
	t.Helper()
	return spans.Records(t, r.dir, false)
}

// makefile writes a Makefile of n independent targets t1..tn, each
// running rec; prefix is put before each recipe ("+" for recursive).
func (r *recorder) makefile(t *testing.T, n, want int, hold, prefix string) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("all:")
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, " t%d", i)
	}
	b.WriteString("\n")
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "t%d:\n\t@%s%s\n", i, prefix, r.cmd(filepath.Base(t.TempDir())+"-t"+strconv.Itoa(i), want, hold))
	}
	path := filepath.Join(t.TempDir(), "Makefile")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func needMake(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("GNU make is not installed")
	}
}
