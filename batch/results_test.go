package batch

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/poolrun/poolrun/internal/leakcheck"
)

// files lists the regular files under root, relative to it.
func files(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	err := filepath.Walk(root, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if !info.IsDir() {
			rel, _ := filepath.Rel(root, p)
			out = append(out, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

func readString(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// The directory tree is GNU parallel 20221122's: a NAME/VALUE pair per
// argument, names sorted numerically then as text within each record,
// and the names start over for each record of a -n job.
func TestResultsTree(t *testing.T) {
	leakcheck.Check(t)
	for _, tc := range []struct {
		name  string
		spec  Spec
		files []string
	}{
		{"two sources", Spec{Inputs: Product(Args("a", "b"), Args("1")), ArgNames: []string{"1", "2"}},
			[]string{"1/a/2/1/seq", "1/a/2/1/stderr", "1/a/2/1/stdout", "1/b/2/1/seq", "1/b/2/1/stderr", "1/b/2/1/stdout"}},
		{"-n 2", Spec{Inputs: Group(Args("a", "b"), 2), ArgNames: []string{"1"}},
			[]string{"1/a/1/b/seq", "1/a/1/b/stderr", "1/a/1/b/stdout"}},
		{"header names sorted", Spec{Inputs: Product(Args("x"), Args("y")), ArgNames: []string{"b", "a"}},
			[]string{"a/y/b/x/seq", "a/y/b/x/stderr", "a/y/b/x/stdout"}},
		{"escapes", Spec{Inputs: Args(`p/q\r`), ArgNames: []string{"1"}},
			[]string{`1/p\_q\\r/seq`, `1/p\_q\\r/stderr`, `1/p\_q\\r/stdout`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := filepath.Join(t.TempDir(), "res")
			tc.spec.Command = []string{"echo"}
			tc.spec.Results = res
			r := runSpec(t, context.Background(), tc.spec)
			if r.err != nil {
				t.Fatal(r.err)
			}
			if got := files(t, res); strings.Join(got, " ") != strings.Join(tc.files, " ") {
				t.Errorf("files %q, want %q", got, tc.files)
			}
		})
	}
}

// A Results path with replacement strings is the stdout file itself,
// with .err and .seq beside it; ending in '/', a directory of the three.
func TestResultsTemplate(t *testing.T) {
	leakcheck.Check(t)
	dir := t.TempDir()
	r := runSpec(t, context.Background(), Spec{Command: []string{"sh", "-c", "echo out $1; echo err >&2", "sh"},
		Inputs: Product(Args("a", "b"), Args("1")), Results: dir + "/r/{1}/{2}.txt"})
	if r.err != nil {
		t.Fatal(r.err)
	}
	want := []string{"r/a/1.txt", "r/a/1.txt.err", "r/a/1.txt.seq", "r/b/1.txt", "r/b/1.txt.err", "r/b/1.txt.seq"}
	if got := files(t, dir); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("files %q, want %q", got, want)
	}
	if s := readString(t, dir+"/r/b/1.txt"); s != "out b\n" {
		t.Errorf("stdout %q", s)
	}
	r = runSpec(t, context.Background(), Spec{Command: []string{"echo"}, Inputs: Args("x"), Results: dir + "/d_{}/"})
	if r.err != nil {
		t.Fatal(r.err)
	}
	if s := readString(t, dir+"/d_x/stdout"); s != "x\n" {
		t.Errorf("dir template stdout %q", s)
	}
}

// CSV, TSV and JSON tables hold GNU parallel's columns, quoted as it
// quotes them.
func TestResultsTables(t *testing.T) {
	leakcheck.Check(t)
	dir := t.TempDir()
	times := regexp.MustCompile(`[0-9]+\.[0-9]{3}`)
	for _, tc := range []struct{ file, want string }{
		{"r.csv", "Seq,Host,Starttime,JobRuntime,Send,Receive,Exitval,Signal,Command,V1,Stdout,Stderr\n" +
			"1,:,T,T,0,4,0,0,\"echo 'a b'\",\"a b\",\"a b\n\",\n"},
		{"r.tsv", "Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\tCommand\tV1\tStdout\tStderr\n" +
			"1\t:\tT\tT\t0\t4\t0\t0\t\"echo 'a b'\"\t\"a b\"\t\"a b\n\"\t\n"},
		{"r.json", `{ "Seq": 1, "Host": ":", "Starttime": T, "JobRuntime": T, "Send": 0, "Receive": 4, "Exitval": 0, "Signal": 0, "Command": "echo 'a b'", "V": [ "a b" ], "Stdout": "a b\u000a", "Stderr": "" }` + "\n"},
	} {
		r := runSpec(t, context.Background(), Spec{Command: []string{"echo {}"}, Inputs: Args("a b"), Results: filepath.Join(dir, tc.file)})
		if r.err != nil {
			t.Fatal(r.err)
		}
		if got := times.ReplaceAllString(readString(t, filepath.Join(dir, tc.file)), "T"); got != tc.want {
			t.Errorf("%s:\n%q\nwant\n%q", tc.file, got, tc.want)
		}
	}
	r := runSpec(t, context.Background(), Spec{Command: []string{"echo"}, Inputs: Args("x"), Results: "-.csv"})
	if r.err != nil || !strings.HasPrefix(r.stdout, "Seq,Host") || !strings.Contains(r.stdout, "\"x\n\"") {
		t.Errorf("-.csv: err %v stdout %q", r.err, r.stdout)
	}
}

// TagString is rendered for each job; Files prints the names of files
// that hold each job's stdout.
func TestTagStringAndFiles(t *testing.T) {
	leakcheck.Check(t)
	r := runSpec(t, context.Background(), Spec{Command: []string{"echo"}, Inputs: Product(Args("a"), Args("1")), TagString: "{2}-{1}:{#}"})
	if r.err != nil || r.stdout != "1-a:1\ta 1\n" {
		t.Errorf("tagstring: err %v stdout %q", r.err, r.stdout)
	}
	tmp := t.TempDir()
	r = runSpec(t, context.Background(), Spec{Command: []string{"sh", "-c", "echo out $1; echo err >&2", "sh"}, Inputs: Args("a", "b"), Files: true, TempDir: tmp, KeepOrder: true})
	if r.err != nil || r.stderr != "" {
		t.Fatalf("files: err %v stderr %q", r.err, r.stderr)
	}
	names := strings.Fields(r.stdout)
	if len(names) != 2 {
		t.Fatalf("files: stdout %q: want two file names", r.stdout)
	}
	for i, n := range names {
		if filepath.Dir(n) != tmp || !strings.HasPrefix(filepath.Base(n), "par") || !strings.HasSuffix(n, ".par") {
			t.Errorf("file name %q: want %s/par*.par", n, tmp)
		}
		if s := readString(t, n); s != "out "+[]string{"a", "b"}[i]+"\n" {
			t.Errorf("%s holds %q", n, s)
		}
	}
}
