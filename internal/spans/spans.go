// Package spans measures, for tests, how many jobs ran at once: each job
// runs a script that logs when it starts and ends, and Peak reads the log.
// (Records reads runs logged as files of a directory instead.)
// A logged span lies inside the job's real run, which lies inside its hold
// of a slot, so logged spans overlap no more than slots do.
//
//	sh := spans.Script(t, dir) // run as: SPANS=$log sh $sh
//	peak, jobs := spans.Peak(t, log)
package spans

import (
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// Script writes a sh script into dir that logs "S <ns>" when it starts
// and "E <ns>" before it ends into $SPANS, holding its slot for 150 ms in
// between, and returns its path.
func Script(t testing.TB, dir string) string {
	t.Helper()
	p := filepath.Join(dir, "span.sh")
	body := `#!/bin/sh
echo "S $(date +%s%N)" >> "$SPANS"
sleep 0.15
echo "E $(date +%s%N)" >> "$SPANS"
`
	if err := os.WriteFile(p, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// Peak reads a spans log and returns the largest number of jobs that ran
// at once, and how many jobs ran.
func Peak(t testing.TB, path string) (peak, jobs int) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var evs []Event
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.Fields(line)
		if len(f) != 2 {
			t.Fatalf("spans: bad line %q", line)
		}
		at, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			t.Fatalf("spans: bad line %q", line)
		}
		d := 1
		if f[0] == "E" {
			d = -1
		} else {
			jobs++
		}
		evs = append(evs, Event{At: at, Delta: d})
	}
	return PeakOf(evs), jobs
}

// Event is a job's start (Delta +1) or end (Delta -1) at a time At, in
// any unit that orders them.
type Event struct {
	At    int64
	Delta int
}

// PeakOf is the most jobs running at once over evs, which it sorts: an
// end and a start at the same instant count as one after the other.
func PeakOf(evs []Event) int {
	sort.Slice(evs, func(i, j int) bool {
		if evs[i].At != evs[j].At {
			return evs[i].At < evs[j].At
		}
		return evs[i].Delta < evs[j].Delta // an end before a start at the same instant
	})
	peak, n := 0, 0
	for _, e := range evs {
		n += e.Delta
		peak = max(peak, n)
	}
	return peak
}

// Records reads a directory of run records, a file NAME.start and, once
// the run ended, NAME.end, each holding the time in ns (date +%s%N), and
// returns how many runs ended and the most that ran at once. A file that
// does not hold a time fails the test, unless partial: then it is a
// record being written by a run killed on purpose, and is skipped.
func Records(t testing.TB, dir string, partial bool) (ended, peak int) {
	t.Helper()
	var evs []Event
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range es {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		at, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		if err != nil {
			if partial {
				continue
			}
			t.Fatalf("spans: record %s: %q", e.Name(), b)
		}
		switch {
		case strings.HasSuffix(e.Name(), ".start"):
			evs = append(evs, Event{At: at, Delta: +1})
		case strings.HasSuffix(e.Name(), ".end"):
			evs = append(evs, Event{At: at, Delta: -1})
			ended++
		}
	}
	return ended, PeakOf(evs)
}
