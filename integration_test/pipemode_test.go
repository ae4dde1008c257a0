//go:build linux

package integration

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/poolrun/poolrun/internal/leakcheck"
)

// pipeCases are GNU parallel --pipe and --pipepart command lines with
// what GNU parallel 20221122 prints for them, stdout, exit status and
// stderr ("parallel:" read as "poolrun:"), recorded; when parallel is
// installed, the test also compares with it live. stdin is one of the
// files pipeFiles writes.
var pipeCases = []struct {
	args   string
	stdin  string
	stdout string
	code   int
	stderr string
}{
	{`-k --pipe --block 10 wc -l`, "s30", "5\n4\n3\n3\n3\n3\n3\n3\n3\n", 0, ""},
	{`-k --pipe -N 4 'echo {#}; cat'`, "s30", "1\n1\n2\n3\n4\n2\n5\n6\n7\n8\n3\n9\n10\n11\n12\n4\n13\n14\n15\n16\n5\n17\n18\n19\n20\n6\n21\n22\n23\n24\n7\n25\n26\n27\n28\n8\n29\n30\n", 0, ""},
	{`-k --pipe -n 4 'echo {#}; cat'`, "s30", "1\n1\n2\n3\n4\n2\n5\n6\n7\n8\n3\n9\n10\n11\n12\n4\n13\n14\n15\n16\n5\n17\n18\n19\n20\n6\n21\n22\n23\n24\n7\n25\n26\n27\n28\n8\n29\n30\n", 0, ""},
	{`-k --pipe -L 3 --block 8 'echo {#}; cat'`, "s30", "1\n1\n2\n3\n2\n4\n5\n6\n3\n7\n8\n9\n4\n10\n11\n12\n5\n13\n14\n15\n6\n16\n17\n18\n7\n19\n20\n21\n8\n22\n23\n24\n9\n25\n26\n27\n10\n28\n29\n30\n", 0, "poolrun: Warning: A record was longer than 8. Increasing to --blocksize 12.\n"},
	{`-k --pipe --recstart '>' -N 1 'echo {#}; cat'`, "fasta", "1\n>a\nAC\nGT\n2\n>b\nTT\n3\n>c\nGG\n", 0, ""},
	{`-k --pipe --recstart '>' --block 10 'echo {#}; cat'`, "fasta", "1\n>a\nAC\nGT\n2\n>b\nTT\n3\n>c\nGG\n", 0, ""},
	{`-k --pipe --header : -N 2 'cat; echo --'`, "header", "id\n1\n2\n--\nid\n3\n4\n--\nid\n5\n--\n", 0, ""},
	{`-k --pipe --header 2 -N 2 'cat; echo --'`, "header", "id\n1\n2\n3\n--\nid\n1\n4\n5\n--\n", 0, ""},
	{`-k --pipe --tag -N 12 wc -l`, "s30", "\t12\n\t12\n\t6\n", 0, ""},
	{`-k --pipe -j1 -N 10 'echo {#} {%}; wc -l'`, "s30", "1 1\n10\n2 1\n10\n3 1\n10\n", 0, ""}, // -j1: with more slots, which one a block gets depends on timing
	{`-k --pipe --block 3 'echo {#}; cat'`, "nolast", "1\na\n2\nb\n3\nc", 0, ""},
	{`-k --pipe --block 2 'echo {#}; cat'`, "long", "1\naaaaaaaaaaaaaaaaaaaaaa\nb\n", 0, "poolrun: Warning: A record was longer than 2. Increasing to --blocksize 4.\npoolrun: Warning: A record was longer than 4. Increasing to --blocksize 7.\npoolrun: Warning: A record was longer than 7. Increasing to --blocksize 11.\npoolrun: Warning: A record was longer than 11. Increasing to --blocksize 16.\npoolrun: Warning: A record was longer than 16. Increasing to --blocksize 22.\npoolrun: Warning: A record was longer than 22. Increasing to --blocksize 30.\n"},
	{`-k --pipe -N 5 'cat >/dev/null; exit 1'`, "s30", "", 6, ""},
	{`-k --pipe -N 5 'cat >/dev/null; test {#} != 2'`, "s30", "", 1, ""},
	{`-k --pipe echo hi`, "empty", "", 0, ""},
	{`-k --pipepart -a s30 --block 20 wc -l`, "empty", "10\n7\n7\n6\n", 0, ""},
	{`-k --pipepart -a fasta --recstart '>' --block 1 'echo {#}; cat'`, "empty", "1\n>a\nAC\nGT\n2\n>b\nTT\n3\n>c\nGG\n", 0, ""},
	{`-k --pipepart -a header --header : --block 4 'cat; echo --'`, "empty", "id\n1\n2\n3\n--\nid\n4\n5\n--\n", 0, ""},
	{`-k --pipe --cat -N 10 'wc -l < {}'`, "s30", "10\n10\n10\n", 0, ""},
	{`-k --pipe --rrs --recend , -N 2 'cat; echo'`, "csv", "12\n34\n5\n", 0, ""},
	{`-k --pipe --regexp --recstart '[>]' -N 2 'echo {#}; cat'`, "fasta", "1\n>a\nAC\nGT\n>b\nTT\n2\n>c\nGG\n", 0, ""},
	{`-k --pipe --recend '' --block 4 'cat; echo'`, "fasta", ">a\nA\nC\nGT\n\n>b\n\nTT\n>\nc\nGG\n\n\n", 0, ""},
}

// pipeFiles are the inputs of pipeCases.
var pipeFiles = map[string]string{
	"s30":    seqLines(30),
	"fasta":  ">a\nAC\nGT\n>b\nTT\n>c\nGG\n",
	"header": "id\n1\n2\n3\n4\n5\n",
	"nolast": "a\nb\nc",
	"empty":  "",
	"long":   "aaaaaaaaaaaaaaaaaaaaaa\nb\n",
	"csv":    "1,2,3,4,5,",
}

func seqLines(n int) string {
	var b strings.Builder
	for i := 1; i <= n; i++ {
		b.WriteString(strconv.Itoa(i) + "\n")
	}
	return b.String()
}

// TestPipeModeAsParallel runs each case with stdin a regular file (cut
// in place) and a pipe (cut in memory).
func TestPipeModeAsParallel(t *testing.T) {
	leakcheck.Check(t)
	t.Parallel()
	dir := t.TempDir()
	for name, body := range pipeFiles {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	gnu := peer("parallel")
	for i, c := range pipeCases {
		if !sampled(i) {
			continue
		}
		for _, how := range []string{"< FILE", "cat FILE |"} {
			var sh string
			if how == "< FILE" {
				sh = `exec "$0" ` + c.args + ` < ` + c.stdin
			} else {
				sh = `cat ` + c.stdin + ` | "$0" ` + c.args
			}
			cmd := exec.Command("sh", "-c", sh, bin)
			cmd.Dir = dir
			var out, errb bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &errb
			err := cmd.Run()
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if out.String() != c.stdout || code != c.code || errb.String() != c.stderr {
				t.Errorf("poolrun %s (%s): exit %d, stdout %q, stderr %q\nwant (GNU parallel's) exit %d, stdout %q, stderr %q", c.args, how, code, out.String(), errb.String(), c.code, c.stdout, c.stderr)
			}
		}
		if gnu == "" {
			continue
		}
		live := exec.Command("sh", "-c", `exec "$0" --will-cite `+c.args+` < `+c.stdin, gnu)
		live.Dir = dir
		if got, err := live.Output(); (err == nil || c.code != 0) && string(got) != c.stdout {
			t.Errorf("GNU parallel %s now prints %q, recorded %q", c.args, got, c.stdout)
		}
	}
}

// TestPipeEarlyExitingJobs: jobs that read a line and exit (head -1) do
// not stall the run. GNU parallel reports such jobs as killed by SIGPIPE
// (its own wrapper that copies the block dies of it) and exits with their
// number; poolrun writes the block itself, the job's status is head's,
// and the run succeeds (docs/pipe.md).
func TestPipeEarlyExitingJobs(t *testing.T) {
	leakcheck.Check(t)
	t.Parallel()
	dir := t.TempDir()
	in := filepath.Join(dir, "in")
	if err := os.WriteFile(in, []byte(seqLines(300000)), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, sh := range []string{`exec "$0" --pipe -j2 --block 300k head -1 < in`, `cat in | "$0" --pipe -j2 --block 300k head -1`, `exec "$0" --pipepart -a in -j2 --block 300k head -1`} {
		cmd := exec.Command("sh", "-c", sh, bin)
		cmd.Dir = dir
		start := time.Now()
		out, err := cmd.Output()
		if err != nil || len(lines(string(out))) != 7 {
			t.Errorf("%s: %v after %v, stdout %q", sh, err, time.Since(start), out)
		}
	}
}

// TestPipeModeErrors: bad pipe flags are one line and exit 255, nothing
// started.
func TestPipeModeErrors(t *testing.T) {
	for _, args := range [][]string{
		{"--pipe", "--block", "-1", "cat"},
		{"--pipe", "--block", "1q", "cat"},
		{"--pipepart", "-a", "/nonexistent/file", "cat"},
		{"--pipepart", "-N", "2", "-a", "/etc/passwd", "cat"},
		{"--pipe", "--roundrobin", "cat"},
		{"--pipe", "--fifo", "cat"},
	} {
		r := poolrun(t, runOpts{stdin: "a\n"}, args...)
		if r.code != 255 || r.stdout != "" || strings.Count(r.stderr, "\n") != 1 || !strings.HasPrefix(r.stderr, "poolrun: ") {
			t.Errorf("poolrun %q: exit %d, stdout %q, stderr %q; want exit 255 and one line", args, r.code, r.stdout, r.stderr)
		}
	}
	// --pipepart with no file: GNU parallel runs nothing and exits 0.
	if r := poolrun(t, runOpts{stdin: "a\n"}, "--pipepart", "cat"); r.code != 0 || r.stdout != "" {
		t.Errorf("--pipepart without -a: exit %d, stdout %q", r.code, r.stdout)
	}
}
