package batch

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestJoblogRoundTrip(t *testing.T) {
	p := filepath.Join(t.TempDir(), "log.tsv")
	l, err := openJoblog(p, false, true, nil)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Unix(1700000000, 123000000)
	l.write(1, start, 1500*time.Millisecond, 0, 10, 0, 0, "echo a")
	l.write(2, start, time.Second, 0, 0, 3, 0, "exit 3\tand\nmore")
	l.write(3, start, time.Second, 0, 0, -1, 15, "sleep 9")
	l.close()
	b, _ := os.ReadFile(p)
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if lines[0]+"\n" != joblogHeader || len(lines) != 4 {
		t.Fatalf("log:\n%s", b)
	}
	if want := "1\t:\t1700000000.123\t     1.500\t0\t10\t0\t0\techo a"; lines[1] != want {
		t.Errorf("line 1 = %q, want %q", lines[1], want)
	}
	if f := strings.Split(lines[2], "\t"); len(f) != 9 || f[8] != "exit 3 and more" {
		t.Errorf("line 2 = %q", lines[2])
	}
	st, err := readJoblog(p)
	if err != nil {
		t.Fatal(err)
	}
	if !st[1] || st[2] || st[3] || len(st) != 3 {
		t.Errorf("resume state %v", st)
	}
	os.WriteFile(p, []byte("not\ta\tjoblog\n"), 0o644)
	if _, err := readJoblog(p); err == nil {
		t.Error("a malformed joblog was accepted")
	}
	if st, err := readJoblog(filepath.Join(t.TempDir(), "none")); err != nil || len(st) != 0 {
		t.Errorf("missing joblog: %v %v", st, err)
	}
}
