package main

import (
	"fmt"
	"os"
	"strconv"

	"github.com/poolrun/poolrun/batch"
)

// packOptions are GNU parallel's options for several inputs per job:
// -X, -m, --xargs, -L, -s, -N (with -n), and -I, -r, -E, which shape
// the inputs.
type packOptions struct {
	mode         byte // 'X', 'm', 'x' (--xargs), or 0
	maxLines     int  // -L
	maxChars     int  // -s (0: the default)
	contextN     bool // -N rather than -n: a word with {} is repeated per argument
	replace      string
	noRunIfEmpty bool
	eof          string
	eofSet       bool
}

func setMaxLines(o *options, v string) error {
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 || n > 100000 {
		return usagef("-L %q: want the number of input lines per job, 1 to 100000 (e.g. -L 2: poolrun -L 2 echo ::: a b c runs echo a b, echo c; with --pipe, a record is that many lines)", v)
	}
	n = max(n, 1) // parallel: 0 means 1
	o.pack.maxLines = n
	o.pipe.lines = n // with --pipe: a record is N lines (pipeflags.go)
	return nil
}

// setMaxChars is -s: as GNU parallel, a value that is not a positive
// number is ignored (the default stays), one over the limit is lowered to
// it with a warning.
func setMaxChars(o *options, v string) error {
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		return nil
	}
	if n > batch.DefaultMaxChars {
		fmt.Fprintf(os.Stderr, "poolrun: Warning: Value for option -s should be < %d.\n", batch.DefaultMaxChars)
		n = batch.DefaultMaxChars
	}
	o.pack.maxChars = n
	return nil
}

func setReplace(o *options, v string) error {
	if v == "" {
		return usagef("-I: empty replacement string; want the text that stands for the input, e.g. -I XX echo XX")
	}
	o.pack.replace = v
	return nil
}

// packing is the batch.Packing the options ask for; nil: one input per
// job, or -n N (batch.Group).
func (o *options) packing() *batch.Packing {
	p := o.pack
	switch {
	case p.mode == 'X' || p.mode == 'm':
		max := p.maxChars
		inputs := o.maxArgs
		if p.maxLines > 0 {
			inputs = p.maxLines
		}
		// -m joins unless -N asks for context replace.
		return &batch.Packing{MaxInputs: inputs, MaxChars: max, Spread: true, Context: p.mode == 'X' || p.contextN}
	case p.mode == 'x':
		return &batch.Packing{MaxInputs: o.maxArgs, MaxChars: p.maxChars, Context: p.contextN}
	case p.maxLines > 0:
		// -L N implies -X (without filling lines): N lines a job.
		return &batch.Packing{MaxInputs: p.maxLines, MaxChars: p.maxChars, Context: true}
	case o.maxArgs > 0 && (p.contextN || p.maxChars > 0):
		return &batch.Packing{MaxInputs: o.maxArgs, MaxChars: p.maxChars, Context: p.contextN}
	case p.maxChars > 0:
		return &batch.Packing{MaxInputs: 1, MaxChars: p.maxChars}
	}
	return nil
}

// shapeSource applies -E and -r to one input source, as GNU parallel
// does before it groups inputs into jobs.
func (o *options) shapeSource(src batch.Source) batch.Source {
	if o.pack.eofSet {
		src = batch.UntilEOF(src, o.pack.eof)
	}
	if o.pack.noRunIfEmpty {
		src = batch.SkipBlank(src)
	}
	return src
}
