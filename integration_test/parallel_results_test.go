//go:build linux

package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/poolrun/poolrun/internal/leakcheck"
)

// outputCases are GNU parallel command lines about where output goes and
// how columns are named (--results, --header, --tagstring, --trim,
// --arg-sep), with what GNU parallel 20221122 prints and the files it
// makes (recorded; compared live too when parallel is installed). Each
// runs in a fresh directory holding h.tsv ("a\tb", "1\t2", "3\t4") and
// h.csv ("x,y", "1,2"). files lists each file made, "path=content".
var outputCases = []struct {
	args  string
	want  string
	files []string
}{
	{`--results r echo ::: a b ::: 1`, "", []string{
		"r/1/a/2/1/seq=1", "r/1/a/2/1/stderr=", "r/1/a/2/1/stdout=a 1\n",
		"r/1/b/2/1/seq=2", "r/1/b/2/1/stderr=", "r/1/b/2/1/stdout=b 1\n"}},
	{`--header : --results r echo {b} {a} ::: a I II ::: b III`, "", []string{
		"r/a/I/b/III/seq=1", "r/a/I/b/III/stderr=", "r/a/I/b/III/stdout=III I\n",
		"r/a/II/b/III/seq=2", "r/a/II/b/III/stderr=", "r/a/II/b/III/stdout=III II\n"}},
	{`--header : --results r echo ::: b x ::: a y`, "", []string{
		"r/a/y/b/x/seq=1", "r/a/y/b/x/stderr=", "r/a/y/b/x/stdout=x y\n"}},
	{`--results r/{1}/{2}.txt 'echo {}; echo e >&2' ::: a ::: 1`, "", []string{
		"r/a/1.txt=a 1\n", "r/a/1.txt.err=e\n", "r/a/1.txt.seq=1"}},
	{`--results 'my_{}/' echo ::: foo`, "", []string{
		"my_foo/seq=1", "my_foo/stderr=", "my_foo/stdout=foo\n"}},
	{`-n2 --results r echo ::: a b`, "", []string{
		"r/1/a/1/b/seq=1", "r/1/a/1/b/stderr=", "r/1/a/1/b/stdout=a b\n"}},
	{`--results r echo ::: 'x/y' 'p\q'`, "", []string{
		`r/1/p\\q/seq=2`, `r/1/p\\q/stderr=`, `r/1/p\\q/stdout=p\q` + "\n",
		`r/1/x\_y/seq=1`, `r/1/x\_y/stderr=`, `r/1/x\_y/stdout=x/y` + "\n"}},
	{`--colsep , --results r echo ::: a,b`, "", []string{
		"r/1/a/2/b/seq=1", "r/1/a/2/b/stderr=", "r/1/a/2/b/stdout=a b\n"}},
	{`--header : -k echo {a}-{b} :::: h.tsv`, "1-2\n3-4\n", nil},
	{`--header : --colsep , -k echo {x}-{y}-{1} :::: h.csv`, "1-2-1\n", nil},
	{`--header : -k echo {f} {g} ::: f 1 2 ::: g 3`, "1 3\n2 3\n", nil},
	{`--header : -k echo {f.} {f/} ::: f x/y.z`, "x/y y.z\n", nil},
	{`--header 2 -k echo {a} :::: h.tsv`, "1\n3\n", nil},
	{`--tagstring '{1}-{2}:' -k echo ::: a b ::: 1`, "a-1:\ta 1\nb-1:\tb 1\n", nil},
	{`--tagstring 'X{#}' -k echo ::: a b`, "X1\ta\nX2\tb\n", nil},
	{`--trim lr -k echo '[{}]' ::: ' a '`, "[a]\n", nil},
	{`--trim l -k echo '[{}]' ::: ' a '`, "[a ]\n", nil},
	{`--arg-sep ,, -k echo ,, a b`, "a\nb\n", nil},
	{`--arg-file-sep // -k echo // h.csv`, "x,y\n1,2\n", nil},
	{`--results r.csv echo ::: a && head -1 r.csv`, "Seq,Host,Starttime,JobRuntime,Send,Receive,Exitval,Signal,Command,V1,Stdout,Stderr\n", []string{"r.csv"}},
	{`--header : --results r.tsv echo ::: n a && head -1 r.tsv`, "Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\tCommand\tn\tStdout\tStderr\n", []string{"r.tsv"}},
	// Found different by a comparison with parallel's documented command lines.
	{`-k echo ::::+ h.csv h.tsv`, "x,y a\tb\n1,2 1\t2\n", nil},
	{`-kvj1 echo ::: a b`, "echo a\na\necho b\nb\n", nil},
	{`-k --verbose -j1 echo ::: a 2>/dev/null`, "a\n", nil},
	{`-k --colsep , echo '[{1}]' '[{2}]' ::: ' a , b '`, "[a] [b]\n", nil},
	{`--dry-run --tag -k echo ::: a`, "a\techo a\n", nil},
	{`-k echo {-1} {-2} ::: a ::: b`, "b a\n", nil},
	{`-k echo 1={1} -1={-1} -2={-2.} ::: A ::: C.x ::: E`, "1=A -1=E -2=C\n", nil},
	{`--version >/dev/null; PARALLEL='-kv -j1' PAR echo ::: A B`, "echo A\nA\necho B\nB\n", nil},
	{`-N0 -k echo foo ::: 1 2`, "foo\nfoo\n", nil},
	{`-k echo {} ::: --help -k`, "--help\n-k\n", nil},
	{`-k -q 'echo {} x' ::: a 2>/dev/null; echo $?`, "1\n", nil},
	{`-k --joblog - exit ::: 0 1 | cut -f1,7`, "Seq\tExitval\n1\t0\n2\t1\n", nil},
	{`-k --joblog +lg exit ::: 0; PAR -k --joblog +lg exit ::: 1; cut -f1,7 lg`, "1\t0\n1\t1\n", []string{"lg=LOG"}},
	{`--shuf echo ::: 1 2 3 4 5 | sort`, "1\n2\n3\n4\n5\n", nil},
	{`--files echo ::: a b | sort | xargs cat | sort`, "a\nb\n", nil},
}

func TestParallelOutputs(t *testing.T) {
	leakcheck.Check(t)
	t.Parallel()
	gnu := peer("parallel")
	for i, c := range outputCases {
		if !sampled(i) {
			continue
		}
		sort.Strings(c.files)
		got, gotFiles := runInFreshDir(t, bin, c.args)
		if got != c.want || strings.Join(gotFiles, "|") != strings.Join(c.files, "|") {
			t.Errorf("poolrun %s:\nstdout %q files %q\nwant (GNU parallel's)\nstdout %q files %q", c.args, got, gotFiles, c.want, c.files)
		}
		if gnu == "" {
			continue
		}
		live, liveFiles := runInFreshDir(t, gnu+" --will-cite", c.args)
		if live != c.want || strings.Join(liveFiles, "|") != strings.Join(c.files, "|") {
			t.Errorf("GNU parallel %s now gives stdout %q files %q; recorded %q %q", c.args, live, liveFiles, c.want, c.files)
		}
	}
}

// runInFreshDir runs prog with args (shell words) in a new directory
// holding the input files, and returns its stdout and the files it made
// ("path=content"; only the path for tables, whose times vary). The temp
// files of --files are not in the directory.
func runInFreshDir(t *testing.T, prog, args string) (string, []string) {
	t.Helper()
	dir := t.TempDir()
	inputs := map[string]string{"h.tsv": "a\tb\n1\t2\n3\t4\n", "h.csv": "x,y\n1,2\n"}
	for name, body := range inputs {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command("sh", "-c", prog+" "+strings.ReplaceAll(args, "PAR ", prog+" "))
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "TMPDIR="+t.TempDir())
	out, err := cmd.Output()
	if err != nil {
		t.Errorf("%s %s: %v", prog, args, err)
	}
	var made []string
	filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if _, input := inputs[rel]; input {
			return nil
		}
		if strings.HasSuffix(rel, ".csv") || strings.HasSuffix(rel, ".tsv") || strings.HasSuffix(rel, ".json") {
			made = append(made, rel)
			return nil
		}
		b, _ := os.ReadFile(p)
		if rel == "lg" {
			b = []byte("LOG") // a joblog: its times vary
		}
		made = append(made, rel+"="+string(b))
		return nil
	})
	sort.Strings(made)
	return string(out), made
}
