package main

import (
	"math"
	"os"
	"regexp"
	"runtime"
	"strconv"
	"strings"

	"github.com/poolrun/poolrun/batch"
)

// pipeOptions are the flags of GNU parallel's pipe mode: --pipe,
// --pipepart and how they cut blocks.
type pipeOptions struct {
	pipe, part   bool
	block        int64 // --block, in bytes (negative: --pipepart's parts per slot); 0: the default
	blockSpec    string
	recStart     string
	recEnd       string
	recStartSet  bool
	recEndSet    bool
	regexp       bool
	removeRecSep bool
	lines        int // -L, --max-lines
	cat          bool
	refused      string // a pipe flag poolrun does not do (--fifo, --roundrobin)
}

// pipeFlagSpecs are the pipe mode's flags, added to flagSpecs.
var pipeFlagSpecs = []flagSpec{
	{[]string{"--pipe", "--spreadstdin"}, "", func(o *options, _ string) error { o.pipe.pipe = true; return nil }},
	{[]string{"--pipepart", "--pipe-part"}, "", func(o *options, _ string) error { o.pipe.part = true; return nil }},
	{[]string{"--block", "--block-size", "--blocksize"}, "SIZE", func(o *options, v string) error {
		n, err := parseSize(v)
		if err != nil {
			return usagef("--block %q: want a size in bytes, with k M G T (1000, 1024^2, ...) if you like (--block 10M, --block 500k), or -N with --pipepart (N parts per slot)", v)
		}
		o.pipe.block, o.pipe.blockSpec = n, v
		return nil
	}},
	{[]string{"--recend"}, "STR", func(o *options, v string) error {
		o.pipe.recEnd, o.pipe.recEndSet = v, true
		return nil
	}},
	{[]string{"--recstart"}, "STR", func(o *options, v string) error {
		o.pipe.recStart, o.pipe.recStartSet = v, true
		return nil
	}},
	{[]string{"--regexp"}, "", func(o *options, _ string) error { o.pipe.regexp = true; return nil }},
	{[]string{"--remove-rec-sep", "--removerecsep", "--rrs"}, "", func(o *options, _ string) error { o.pipe.removeRecSep = true; return nil }},
	{[]string{"--header"}, "REGEXP", func(o *options, v string) error {
		o.header = v
		return nil
	}},
	{[]string{"--cat"}, "", func(o *options, _ string) error { o.pipe.cat = true; return nil }},
	{[]string{"--fifo"}, "", func(o *options, _ string) error { o.pipe.refused = "--fifo"; return nil }},
	{[]string{"--roundrobin", "--round-robin", "--round"}, "", func(o *options, _ string) error {
		o.pipe.refused = "--roundrobin"
		return nil
	}},
}

func init() { flagSpecs = append(flagSpecs, pipeFlagSpecs...) }

// on reports whether the batch runs in pipe mode (--cat alone implies
// --pipe, as in parallel).
func (p *pipeOptions) on() bool { return p.pipe || p.part || p.cat }

// checkPipe rejects pipe-mode combinations that cannot work.
func (o *options) checkPipe() error {
	p := &o.pipe
	if p.refused != "" {
		return usagef("%s is not supported: use --pipe (each block on a job's stdin) or --cat (each block in a file, {} its name)", p.refused)
	}
	if !p.on() {
		if p.lines > 0 && o.maxArgs == 0 {
			o.maxArgs = p.lines // -L without --pipe: that many input lines per job
		}
		return nil
	}
	var files int
	for _, s := range o.sources {
		switch {
		case !p.part:
			return usagef("--pipe reads its blocks from stdin: inputs given with -a, ::: or :::: are not used; for a file, use < FILE or --pipepart -a FILE")
		case s.isArgs || s.file == "-":
			return usagef("--pipepart splits the files given with -a: ::: arguments and stdin (-a -) are not seekable files")
		}
		files++
	}
	switch {
	case p.part && (o.maxArgs > 0 || p.lines > 0):
		return usagef("--pipepart is incompatible with --max-replace-args, --max-lines, and -L")
	case p.block < 0 && !p.part:
		return usagef("--block %s: a negative size (parts per slot) needs --pipepart", p.blockSpec)
	case len(o.command) == 0:
		return usagef("--pipe needs a command to give each block to (poolrun --pipe wc -l)")
	}
	if _, err := o.pipeSpec(); err != nil {
		return err
	}
	return nil
}

// pipeSpec is the batch.Pipe the flags describe, with GNU parallel's
// defaults: records end at a newline unless --recstart or --recend says
// otherwise; --recend ” alone cuts anywhere.
func (o *options) pipeSpec() (*batch.Pipe, error) {
	p := &o.pipe
	bp := &batch.Pipe{
		BlockSize:    p.block,
		Regexp:       p.regexp,
		Records:      o.maxArgs,
		Lines:        p.lines,
		RemoveRecSep: p.removeRecSep,
		Cat:          p.cat,
	}
	if !p.regexp {
		bp.RecStart, bp.RecEnd = unescapeRec(p.recStart), unescapeRec(p.recEnd)
	} else {
		bp.RecStart, bp.RecEnd = p.recStart, p.recEnd
		for _, v := range []string{p.recStart, p.recEnd} {
			if _, err := regexp.Compile(v); err != nil {
				return nil, usagef("--regexp: %q is not a regular expression (RE2 syntax): %v", v, err)
			}
		}
	}
	if !p.recStartSet && !p.recEndSet {
		bp.RecEnd = "\n"
	}
	bp.Anywhere = bp.RecStart == "" && bp.RecEnd == ""
	if o.header != "" {
		bp.Header = headerRegexp(o.header)
		if _, err := regexp.Compile(bp.Header); err != nil {
			return nil, usagef("--header %q: want : (the first line), a number of lines, or a regular expression (RE2 syntax) for the header: %v", o.header, err)
		}
	}
	if p.part {
		for _, s := range o.sources {
			bp.Files = append(bp.Files, s.file)
		}
	}
	return bp, nil
}

// headerRegexp is --header as GNU parallel reads it with --pipe: ":" is
// the first line, a number N the first N lines, anything else a regular
// expression the header matches.
func headerRegexp(v string) string {
	if v == ":" {
		return `.*\n`
	}
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return `(?:.*\n){` + strconv.Itoa(n) + `}`
	}
	return v
}

// unescapeRec turns the escapes GNU parallel reads in a fixed --recstart
// or --recend (\n \r \t \0 \' \" \\) into the bytes they stand for.
func unescapeRec(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			if c, ok := map[byte]byte{'0': 0, 'r': '\r', 'n': '\n', 't': '\t', '\'': '\'', '"': '"', '\\': '\\'}[s[i+1]]; ok {
				b.WriteByte(c)
				i++
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// sizeNumber is the number of a size: digits, maybe a fraction and a sign.
var sizeNumber = regexp.MustCompile(`^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)$`)

// parseSize reads a size as GNU parallel's multiply_binary_prefix does:
// a number (a fraction, a sign) and one unit: k m g t p e for powers of
// 1000, K M G T P E (or ki Mi Gi ...) for powers of 1024; the result is
// truncated to bytes.
func parseSize(v string) (int64, error) {
	num := strings.TrimRight(v, "kKmMgGtTpPeEi")
	unit := v[len(num):]
	if !sizeNumber.MatchString(num) {
		return 0, usagef("bad size")
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return 0, usagef("bad size")
	}
	mult := 1.0
	if unit != "" {
		const units = "kmgtpe"
		binary := strings.HasSuffix(unit, "i") || strings.ContainsAny(unit[:1], "KMGTPE")
		u := strings.TrimSuffix(unit, "i")
		if len(u) != 1 || (strings.HasSuffix(unit, "i") && len(unit) != 2) {
			return 0, usagef("bad size")
		}
		k := strings.IndexByte(units, strings.ToLower(u)[0])
		if k < 0 {
			return 0, usagef("bad size")
		}
		base := 1000.0
		if binary {
			base = 1024
		}
		mult = math.Pow(base, float64(k+1))
	}
	r := f * mult
	if math.Abs(r) >= 1<<62 {
		return 0, usagef("bad size")
	}
	return int64(r), nil
}

// tuneForPipe gives a pipe batch a second P (tuneForBatches leaves one):
// the reader and the goroutines writing blocks into the jobs' stdin
// spend their time in read, write and splice calls, and with one P each
// such call holds up the others until sysmon hands the P on. 512 MB into
// wc -l at -j4 took 595 ms with one, 500 ms with two (stdin a file), and
// 1 007 / 780 ms with stdin a pipe (bench/pipe.sh's cases).
func tuneForPipe() {
	if os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(min(2, runtime.NumCPU()))
	}
}
