package spawn

import (
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/poolrun/poolrun/internal/leakcheck"
)

func TestParseLine(t *testing.T) {
	leakcheck.Check(t)
	for _, tc := range []struct {
		line  string
		level hclog.Level
		msg   string
		args  int
	}{
		{`{"@level":"error","@message":"boom","@timestamp":"x","@module":"w","code":7}`, hclog.Error, "boom", 2},
		{`{"@level":"bogus","@message":"m"}`, hclog.Info, "m", 0},
		{`{"no":"level"}`, hclog.Info, `{"no":"level"}`, 0},
		{`{broken`, hclog.Info, `{broken`, 0},
		{`2026-01-01T00:00:00.000Z [WARN]  w: low disk: free=3`, hclog.Warn, "w: low disk: free=3", 0},
		{`[DEBUG] x`, hclog.Debug, "x", 0},
		{`[OFF] x`, hclog.Info, "[OFF] x", 0},
		{`plain [text] here`, hclog.Info, "plain [text] here", 0},
	} {
		level, msg, args := parseLine([]byte(tc.line))
		if level != tc.level || msg != tc.msg || len(args) != tc.args {
			t.Errorf("parseLine(%q) = %v %q %v", tc.line, level, msg, args)
		}
	}
}

func TestLineLoggerLongLine(t *testing.T) {
	leakcheck.Check(t)
	var n int
	w := newLineLogger(hclog.New(&hclog.LoggerOptions{Output: countWriter{&n}, Level: hclog.Info}))
	long := make([]byte, 3*maxLine/2)
	for i := range long {
		long[i] = 'a'
	}
	w.Write(long)
	w.Write([]byte("\n\n\r\nnext"))
	w.Flush()
	if n != 3 { // one cut at maxLine, the rest, "next"
		t.Fatalf("%d log entries, want 3", n)
	}
}

type countWriter struct{ n *int }

func (c countWriter) Write(p []byte) (int, error) { *c.n++; return len(p), nil }

// BenchmarkTrackerStart: what the first Track of a process costs (fork
// and exec of the tracker: "start"), and how long until the tracker runs
// ("ready", paid in the background).
func BenchmarkTrackerStart(b *testing.B) {
	var start, ready time.Duration
	for b.Loop() {
		t0 := time.Now()
		w, ok, proc, err := startTracker(nil)
		if err != nil {
			b.Fatal(err)
		}
		start += time.Since(t0)
		if err := <-ok; err != nil {
			b.Fatal(err)
		}
		ready += time.Since(t0)
		w.Close()
		proc.Wait()
	}
	b.ReportMetric(float64(start.Microseconds())/float64(b.N), "start-µs")
	b.ReportMetric(float64(ready.Microseconds())/float64(b.N), "ready-µs")
}

// BenchmarkForkThreadHandoff: the round trip to the locked fork thread
// that every Start pays (two thread wake-ups).
func BenchmarkForkThreadHandoff(b *testing.B) {
	for b.Loop() {
		onForkThread(func() {})
	}
}
