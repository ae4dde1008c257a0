package batch

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/poolrun/poolrun/internal/leakcheck"
)

// seqText is seq 1 n's output.
func seqText(n int) string {
	var b strings.Builder
	for i := 1; i <= n; i++ {
		b.WriteString(strconv.Itoa(i))
		b.WriteByte('\n')
	}
	return b.String()
}

// seqFile writes seqText(n) to a file in t's directory and opens it.
func seqFile(t *testing.T, n int) *os.File {
	t.Helper()
	path := filepath.Join(t.TempDir(), "seq")
	if err := os.WriteFile(path, []byte(seqText(n)), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// stdins are the ways a pipe batch gets its input: a reader (a pipe, read
// through memory) and a regular file (spliced in place).
func stdins(t *testing.T, n int) map[string]io.Reader {
	return map[string]io.Reader{"reader": strings.NewReader(seqText(n)), "file": seqFile(t, n)}
}

// TestPipeBlocksInOrder: seq 100000 | parallel -k --pipe --block 10k wc -l
// gives these counts (recorded from GNU parallel 20221122), through both
// ways of reading stdin, with the jobs' own processes.
func TestPipeBlocksInOrder(t *testing.T) {
	leakcheck.Check(t)
	want := "2221\n2000\n2000\n2000\n1963\n" + strings.Repeat("1666\n", 53) + "1518\n"
	for name, in := range stdins(t, 100000) {
		r := runSpec(t, context.Background(), Spec{Command: []string{"wc", "-l"}, Stdin: in, Jobs: 3, KeepOrder: true,
			Pipe: &Pipe{BlockSize: 10000}})
		if r.err != nil || r.stdout != want || r.sum.Started != 59 || r.sum.Failed != 0 {
			t.Errorf("%s: err %v, summary %+v, stdout %q, stderr %s", name, r.err, r.sum, r.stdout, r.stderr)
		}
	}
}

// TestPipeJobNumbers: {#} is the block's number, {%} the slot, {} empty,
// and no input is appended to the command.
func TestPipeJobNumbers(t *testing.T) {
	leakcheck.Check(t)
	r := runSpec(t, context.Background(), Spec{Command: []string{"sh", "-c", `echo "{#} {%} [{}] $# $(wc -l)"`}, Stdin: strings.NewReader(seqText(7)),
		Jobs: 1, KeepOrder: true, Pipe: &Pipe{Records: 3}})
	if want := "1 1 [] 0 3\n2 1 [] 0 3\n3 1 [] 0 1\n"; r.err != nil || r.stdout != want {
		t.Fatalf("err %v, stdout %q, want %q; stderr %s", r.err, r.stdout, want, r.stderr)
	}
}

// TestPipeFailuresCount: a failing job counts as any job does.
func TestPipeFailuresCount(t *testing.T) {
	leakcheck.Check(t)
	r := runSpec(t, context.Background(), Spec{Command: []string{"sh", "-c", `cat >/dev/null; test {#} -gt 3`}, Stdin: strings.NewReader(seqText(10)),
		Jobs: 2, Pipe: &Pipe{Records: 2}})
	if r.err != nil || r.sum.Started != 5 || r.sum.Failed != 3 {
		t.Fatalf("err %v, summary %+v, stderr %s", r.err, r.sum, r.stderr)
	}
}

// TestPipeEmptyInput: no input, no job (as GNU parallel).
func TestPipeEmptyInput(t *testing.T) {
	leakcheck.Check(t)
	for name, in := range map[string]io.Reader{"reader": strings.NewReader(""), "file": seqFile(t, 0)} {
		r := runSpec(t, context.Background(), Spec{Command: []string{"echo", "ran"}, Stdin: in, Pipe: &Pipe{}})
		if r.err != nil || r.sum.Started != 0 || r.stdout != "" {
			t.Errorf("%s: err %v, summary %+v, stdout %q", name, r.err, r.sum, r.stdout)
		}
	}
}

// TestPipeEarlyClose: jobs that read one line and exit (head -1) neither
// stall the batch nor fail: a closed stdin ends the writing of its block.
// Blocks of 2 MB do not fit in the pipe, so the writer does meet the
// closed end.
func TestPipeEarlyClose(t *testing.T) {
	leakcheck.Check(t)
	for name, in := range stdins(t, 1_000_000) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute) // a stall fails, it does not hang the suite
		r := runSpec(t, ctx, Spec{Command: []string{"head", "-1"}, Stdin: in, Jobs: 2, KeepOrder: true, Pipe: &Pipe{BlockSize: 2 << 20}})
		cancel()
		lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
		if r.err != nil || r.sum.Failed != 0 || r.sum.Started != 4 || len(lines) != 4 || lines[0] != "1" {
			t.Errorf("%s: err %v, summary %+v, stdout %q, stderr %s", name, r.err, r.sum, r.stdout, r.stderr)
		}
	}
}

// TestPipeJoblogSend: the joblog's Send column is the block's size,
// header included, as in GNU parallel.
func TestPipeJoblogSend(t *testing.T) {
	leakcheck.Check(t)
	jl := filepath.Join(t.TempDir(), "jl")
	in := "id\n" + seqText(5)
	r := runSpec(t, context.Background(), Spec{Command: []string{"cat"}, Stdin: strings.NewReader(in), Jobs: 1, Joblog: jl, KeepOrder: true,
		Pipe: &Pipe{Records: 2, Header: `.*\n`}})
	if want := "id\n1\n2\nid\n3\n4\nid\n5\n"; r.err != nil || r.stdout != want {
		t.Fatalf("err %v, stdout %q, want %q", r.err, r.stdout, want)
	}
	b, err := os.ReadFile(jl)
	if err != nil {
		t.Fatal(err)
	}
	var sends []string
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n")[1:] {
		sends = append(sends, strings.Split(l, "\t")[4])
	}
	if got := strings.Join(sends, " "); got != "7 7 5" {
		t.Fatalf("Send columns %q, want 7 7 5:\n%s", got, b)
	}
}

// TestPipeCat: with Cat, {} is a file holding the block, removed after
// the job.
func TestPipeCat(t *testing.T) {
	leakcheck.Check(t)
	r := runSpec(t, context.Background(), Spec{Command: []string{"sh", "-c", `echo {}; cat {}`}, Stdin: strings.NewReader(seqText(4)), Jobs: 1, KeepOrder: true,
		Pipe: &Pipe{Records: 2, Cat: true}})
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	if r.err != nil || len(lines) != 6 || lines[1] != "1" || lines[2] != "2" || lines[4] != "3" || lines[5] != "4" {
		t.Fatalf("err %v, stdout %q, stderr %s", r.err, r.stdout, r.stderr)
	}
	for _, name := range []string{lines[0], lines[3]} {
		if _, err := os.Stat(name); !os.IsNotExist(err) {
			t.Errorf("--cat file %s left behind (%v)", name, err)
		}
	}
}

// TestPipeParts: Files are cut into parts, each job reading its own.
func TestPipeParts(t *testing.T) {
	leakcheck.Check(t)
	f := seqFile(t, 100000)
	// parallel -k --pipepart --block 10k -a seq100000 wc -l
	want := "2222\n2001\n2001\n2001\n1963\n" + strings.Repeat("1667\n", 53) + "1461\n"
	r := runSpec(t, context.Background(), Spec{Command: []string{"wc", "-l"}, Jobs: 2, KeepOrder: true, Pipe: &Pipe{BlockSize: 10000, Files: []string{f.Name()}}})
	if r.err != nil || r.stdout != want {
		t.Fatalf("err %v, stdout %q, stderr %s", r.err, r.stdout, r.stderr)
	}
	_, err := Run(context.Background(), Spec{Command: []string{"cat"}, Pipe: &Pipe{Files: []string{filepath.Join(t.TempDir(), "missing")}}})
	if se := (*SpecError)(nil); !asSpecErr(err, &se) || !strings.Contains(err.Error(), "no such file") {
		t.Fatalf("a missing file: %v, want a SpecError", err)
	}
}

func asSpecErr(err error, se **SpecError) bool {
	e, ok := err.(*SpecError)
	*se = e
	return ok
}

// TestPipeBadSpecs: what cannot work is refused before anything runs.
func TestPipeBadSpecs(t *testing.T) {
	for _, s := range []Spec{
		{Command: []string{"cat"}, Pipe: &Pipe{BlockSize: -1}},
		{Command: []string{"cat"}, Pipe: &Pipe{Records: -1}},
		{Command: []string{"cat"}, Pipe: &Pipe{Regexp: true, RecEnd: "("}},
		{Command: []string{"cat"}, Pipe: &Pipe{Header: "("}},
		{Command: []string{"cat"}, Pipe: &Pipe{Files: []string{"x"}, Records: 2}},
		{Command: []string{"cat"}, Inputs: Args("a"), Pipe: &Pipe{}},
		{Pipe: &Pipe{}},
	} {
		if _, err := Run(context.Background(), s); fmt.Sprint(err) == "<nil>" || !asSpecErr(err, new(*SpecError)) {
			t.Errorf("%+v: %v, want a SpecError", s.Pipe, err)
		}
	}
}
