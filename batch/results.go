package batch

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// resultsKind is which of GNU parallel's --results layouts Spec.Results
// asks for.
type resultsKind uint8

const (
	resultsTree     resultsKind = iota // DIR: DIR/NAME/VALUE/…/{seq,stdout,stderr}
	resultsTemplate                    // a path with replacement strings: PATH, PATH.err, PATH.seq (or PATH/ a dir of the three)
	resultsTable                       // NAME.csv, NAME.tsv, NAME.json: one record per job
)

// results saves the jobs' outputs as Spec.Results says. The tree and
// template kinds write each job's files from the worker that ran it (the
// paths differ); the table kinds write one record per job from the
// printer, in the order jobs are printed.
type results struct {
	kind  resultsKind
	root  string   // resultsTree: the directory
	tmpl  template // resultsTemplate
	names []string // Spec.ArgNames

	json  bool
	sep   byte          // ',' or '\t' (not json)
	table *bufio.Writer // resultsTable
	file  *os.File      // the table's file; nil on Stdout
	width int           // the table's V columns, fixed by its first record

	counts *runCounts // --plus {##} {0#} {0%} in a template
}

// newResults makes the Results directory or table file. A path ending in
// .csv, .tsv or .json is a table (-.csv, -.tsv, -.json: on Stdout); one
// with replacement strings is a template; any other is a directory.
func newResults(spec *Spec) (*results, error) {
	name := spec.Results
	res := &results{names: spec.ArgNames}
	lower := strings.ToLower(name)
	switch {
	case strings.HasSuffix(lower, ".csv"), strings.HasSuffix(lower, ".tsv"), strings.HasSuffix(lower, ".json"):
		res.kind = resultsTable
		res.json = strings.HasSuffix(lower, ".json")
		res.sep = ','
		if strings.HasSuffix(lower, ".tsv") {
			res.sep = '\t'
		}
		if spec.DryRun {
			return res, nil
		}
		var w io.Writer = spec.Stdout
		if name[:strings.LastIndexByte(name, '.')] != "-" {
			f, err := os.Create(name)
			if err != nil {
				return nil, specErr("Results", "results file %s: %v", name, unwrapPath(err))
			}
			res.file, w = f, f
		}
		res.table = bufio.NewWriterSize(w, 64<<10)
		return res, nil
	}
	t, err := parseTemplateWith(name, "", spec.Plus)
	if err != nil {
		return nil, specErr("Results", "%v", err)
	}
	if _, plain := t.literal(); !plain {
		res.kind, res.tmpl = resultsTemplate, t
		return res, nil
	}
	res.kind, res.root = resultsTree, name
	if !spec.DryRun {
		if err := os.MkdirAll(name, 0o755); err != nil {
			return nil, specErr("Results", "results directory %s: %v", name, unwrapPath(err))
		}
	}
	return res, nil
}

// save writes a finished job's files (the tree and template kinds).
// poolrun writes them from the job's captured output, not the job
// itself: a write that fails is then poolrun's to see and report, never
// a silently truncated file.
func (res *results) save(j *job) error {
	var out, errPath, seqPath string
	switch res.kind {
	case resultsTable:
		return nil
	case resultsTree:
		dir := res.root + "/" + res.dirname(j.args) + "/"
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return &WriteError{Path: dir, Err: unwrapPath(err)}
		}
		out, errPath, seqPath = dir+"stdout", dir+"stderr", dir+"seq"
	case resultsTemplate:
		p := string(res.tmpl.render(nil, res.counts.vars(j.args, j.seq, j.slot, false), false))
		if strings.HasSuffix(p, "/") {
			out, errPath, seqPath = p+"stdout", p+"stderr", p+"seq"
		} else {
			out, errPath, seqPath = p, p+".err", p+".seq"
		}
		if d := filepath.Dir(out); d != "." {
			if err := os.MkdirAll(d, 0o755); err != nil {
				return &WriteError{Path: d, Err: unwrapPath(err)}
			}
		}
	}
	if err := writeFile(seqPath, func(f *os.File) error {
		_, err := f.WriteString(strconv.Itoa(j.seq))
		return err
	}); err != nil {
		return err
	}
	if err := writeFile(out, func(f *os.File) error { return j.stdout.copyTo(f) }); err != nil {
		return err
	}
	return writeFile(errPath, func(f *os.File) error { return j.stderr.copyTo(f) })
}

// maxNameLen is the longest directory name the tree uses for a value:
// NAME_MAX on Linux and macOS. GNU parallel too cuts longer values.
const maxNameLen = 255

// dirname is GNU parallel's args_as_dirname: NAME/VALUE pairs for each of
// the job's arguments joined with '/', the names sorted (numerically,
// then as text) within each input record. In values, \ is written \\,
// TAB \t, NUL \0 and / \_, so that each value is one directory.
func (res *results) dirname(args []string) string {
	width := len(res.names)
	if width == 0 {
		width = len(args)
	}
	var b strings.Builder
	for start := 0; start < len(args); start += width {
		rec := args[start:min(start+width, len(args))]
		order := make([]int, len(rec))
		for i := range order {
			order[i] = i
		}
		sort.SliceStable(order, func(a, b int) bool { return headerLess(res.name(order[a]), res.name(order[b])) })
		for _, i := range order {
			if b.Len() > 0 {
				b.WriteByte('/')
			}
			b.WriteString(res.name(i))
			b.WriteByte('/')
			v := dirValue(rec[i])
			if len(v) > maxNameLen {
				v = v[:maxNameLen]
			}
			b.WriteString(v)
		}
	}
	return b.String()
}

// name is the name of the i-th argument of an input record.
func (res *results) name(i int) string {
	if i < len(res.names) {
		return res.names[i]
	}
	return strconv.Itoa(i + 1)
}

var dirValueEscapes = strings.NewReplacer(`\`, `\\`, "\t", `\t`, "\x00", `\0`, "/", `\_`)

func dirValue(s string) string { return dirValueEscapes.Replace(s) }

// headerLess orders names as GNU parallel sorts its headers: by their
// numeric value (perl's: the leading number, 0 if none), then as text.
func headerLess(a, b string) bool {
	na, nb := leadingNumber(a), leadingNumber(b)
	if na != nb {
		return na < nb
	}
	return a < b
}

func leadingNumber(s string) float64 {
	s = strings.TrimLeft(s, " \t\n")
	end := 0
	for end < len(s) && (s[end] >= '0' && s[end] <= '9' || s[end] == '.' || end == 0 && (s[end] == '-' || s[end] == '+')) {
		end++
	}
	for ; end > 0; end-- {
		if f, err := strconv.ParseFloat(s[:end], 64); err == nil {
			return f
		}
	}
	return 0
}

// record writes the job's table record (the table kinds), under the
// printer's lock; the first one writes the header too.
func (res *results) record(j *job, cmdLine string) error {
	if res.kind != resultsTable || res.table == nil {
		return nil
	}
	var stdout, stderr bytes.Buffer
	if err := j.stdout.copyTo(&stdout); err != nil {
		return err
	}
	if err := j.stderr.copyTo(&stderr); err != nil {
		return err
	}
	start := fmt.Sprintf("%.3f", float64(j.start.UnixNano())/1e9)
	runtime := fmt.Sprintf("%.3f", j.dur.Seconds())
	exit, sig := j.exit, j.sig
	if exit < 0 {
		exit = -1
	}
	w := res.table
	if res.json {
		fmt.Fprintf(w, `{ "Seq": %d, "Host": ":", "Starttime": %s, "JobRuntime": %s, "Send": 0, "Receive": %d, "Exitval": %d, "Signal": %d, "Command": "%s", "V": [ `,
			j.seq, start, runtime, stdout.Len(), exit, sig, jsonQuote(cmdLine))
		for i, a := range j.args {
			if i > 0 {
				w.WriteByte(',')
			}
			w.WriteString(`"` + jsonQuote(a) + `"`)
		}
		fmt.Fprintf(w, ` ], "Stdout": "%s", "Stderr": "%s" }`+"\n", jsonQuote(stdout.String()), jsonQuote(stderr.String()))
		return res.flush()
	}
	if res.width == 0 {
		res.width = max(len(j.args), 1)
		cols := []string{"Seq", "Host", "Starttime", "JobRuntime", "Send", "Receive", "Exitval", "Signal", "Command"}
		for i := range len(j.args) {
			// Named columns (a header) by their names; positions, as
			// GNU parallel's V1, V2, ….
			name := strconv.Itoa(i + 1)
			if len(res.names) > 0 {
				name = res.name(i % len(res.names))
			}
			if name == strconv.Itoa(i%max(len(res.names), len(j.args))+1) {
				name = "V" + strconv.Itoa(i+1)
			}
			cols = append(cols, name)
		}
		res.row(append(cols, "Stdout", "Stderr"))
	}
	cols := []string{strconv.Itoa(j.seq), ":", start, runtime, "0", strconv.Itoa(stdout.Len()), strconv.Itoa(exit), strconv.Itoa(sig), cmdLine}
	cols = append(cols, j.args...)
	res.row(append(cols, stdout.String(), stderr.String()))
	return res.flush()
}

// row writes one CSV/TSV row, quoted as GNU parallel quotes: a field
// with a quote, white space, the separator or a NUL is put in quotes,
// its quotes doubled.
func (res *results) row(cols []string) {
	w := res.table
	for i, c := range cols {
		if i > 0 {
			w.WriteByte(res.sep)
		}
		if strings.ContainsAny(c, "\" \t\n\r\v\f\x00") || strings.IndexByte(c, res.sep) >= 0 {
			w.WriteByte('"')
			w.WriteString(strings.ReplaceAll(c, `"`, `""`))
			w.WriteByte('"')
			continue
		}
		w.WriteString(c)
	}
	w.WriteByte('\n')
}

func (res *results) flush() error {
	if err := res.table.Flush(); err != nil {
		return &WriteError{Path: res.tablePath(), Err: unwrapPath(err)}
	}
	return nil
}

func (res *results) tablePath() string {
	if res.file != nil {
		return res.file.Name()
	}
	return ""
}

// close closes the table's file.
func (res *results) close() error {
	if res == nil || res.file == nil {
		return nil
	}
	if err := res.file.Close(); err != nil {
		return &WriteError{Path: res.file.Name(), Err: unwrapPath(err)}
	}
	return nil
}

// jsonQuote quotes s as GNU parallel's JSON records do: \ and " escaped,
// control characters as \u00XX.
func jsonQuote(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' || c == '"':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20:
			fmt.Fprintf(&b, `\u%04x`, c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}
