package batch

import (
	"fmt"
	"regexp"
)

// Pipe makes a batch split its input into blocks of whole records and
// give each block to one job on its stdin (GNU parallel's --pipe), or
// split seekable files into parts, each job reading its own part
// (--pipepart). The blocks are cut where GNU parallel 20221122 cuts them;
// docs/pipe.md has the rules. The zero Pipe cuts Spec.Stdin into blocks of
// about 1 MiB of whole lines.
type Pipe struct {
	// BlockSize is the most bytes a block holds (it grows, with a warning,
	// when a record is longer). 0: 1 MiB. With Files, a negative -N makes
	// each part the files' total size / Jobs / N (0: -10, ten parts a
	// slot); a part then holds at least that many bytes, up to the end of
	// the record it ends in.
	BlockSize int64
	// RecEnd ends a record and RecStart starts one: a block is cut only
	// where RecEnd is followed by RecStart. Both "": RecEnd is "\n" (lines),
	// unless Anywhere is set.
	RecStart, RecEnd string
	// Anywhere cuts blocks anywhere, records or not (GNU parallel's
	// --recend '' without --recstart).
	Anywhere bool
	// Regexp reads RecStart and RecEnd as regular expressions (Go's RE2
	// syntax; ^ and $ match at line ends too, as in parallel's /m).
	Regexp bool
	// Records, if set, puts exactly that many records in each block but
	// the last (parallel's -N with --pipe), whatever BlockSize says.
	Records int
	// Lines, if set, makes a record that many lines (-L with --pipe):
	// blocks hold whole multiples of it.
	Lines int
	// Header is a regular expression matched at the start of the input;
	// what it matches is given again at the start of every block (with
	// Files: of every part of each file). "": none. GNU parallel's
	// --header : is `.*\n` (one line), --header 3 is three lines.
	Header string
	// RemoveRecSep removes RecEnd and RecStart where blocks and records
	// meet (parallel's --rrs): every RecEnd followed by RecStart, the
	// first RecStart and the last RecEnd of each block.
	RemoveRecSep bool
	// Files, if set, are the seekable files to split instead of Stdin
	// (--pipepart -a FILE): each job reads its part of one of them.
	Files []string
	// Cat writes each block to a temporary file instead of the job's
	// stdin: {} is its name (appended if the command has no {}), removed
	// when the job ends (parallel's --cat).
	Cat bool
}

// defaultBlockSize is GNU parallel's --block default: 1M.
const defaultBlockSize = 1 << 20

// maxBlockSize is the largest block --pipe reads into memory, as in GNU
// parallel: 2 GiB - 1.
const maxBlockSize = 1<<31 - 1

// pipeRules is a Pipe checked and compiled.
type pipeRules struct {
	p                *Pipe
	bs               int64 // the block size (Files: <0 is resolved per run)
	recStart, recEnd []byte
	sep              []byte         // recEnd + recStart: where blocks may be cut
	header           *regexp.Regexp // anchored at the start
	cut              *regexp.Regexp // Regexp: ^(.*RECEND)RECSTART, the last cut in a window
	partCut          *regexp.Regexp // Regexp, Files: the same without /m, as parallel's
	bound            *regexp.Regexp // Regexp: (RECEND)RECSTART, the first record boundary
	startRe          *regexp.Regexp // Regexp: \ARECSTART
	endRe            *regexp.Regexp // Regexp: RECEND\z (RemoveRecSep)
	sepRe            *regexp.Regexp // Regexp: RECEND RECSTART (RemoveRecSep)
}

// compilePipe checks p and compiles its expressions.
func compilePipe(p *Pipe, s *Spec) (*pipeRules, error) {
	r := &pipeRules{p: p, bs: p.BlockSize}
	switch {
	case p.BlockSize == 0:
		r.bs = defaultBlockSize
		if len(p.Files) > 0 {
			r.bs = -10
		}
	case p.BlockSize < 0 && len(p.Files) == 0:
		return nil, specErr("Pipe", "a negative block size (%d) divides files (Pipe.Files, --pipepart) among the slots: reading stdin, give the bytes per block", p.BlockSize)
	case p.BlockSize > maxBlockSize && len(p.Files) == 0:
		r.bs = maxBlockSize
	}
	switch {
	case p.Records < 0:
		return nil, specErr("Pipe", "%d records per block: want at least 1", p.Records)
	case p.Lines < 0:
		return nil, specErr("Pipe", "%d lines per record: want at least 1", p.Lines)
	case len(p.Files) > 0 && (p.Records > 0 || p.Lines > 0):
		return nil, specErr("Pipe", "splitting files (--pipepart) is by size only: records per block (-N) and lines per record (-L) need --pipe")
	case len(p.Files) > 0 && p.Cat:
		return nil, specErr("Pipe", "--cat writes blocks read from stdin to files: with --pipepart, give the file itself")
	case len(p.Files) > 0 && p.RemoveRecSep:
		return nil, specErr("Pipe", "--rrs needs --pipe: --pipepart hands each job its part of the file as it is")
	case s.Inputs != nil:
		return nil, specErr("Pipe", "a pipe batch reads its blocks from Stdin or Pipe.Files: Inputs must be nil")
	case len(s.Command) == 0:
		return nil, specErr("Pipe", "a pipe batch needs a command to give the blocks to")
	}
	recStart, recEnd := p.RecStart, p.RecEnd
	if recStart == "" && recEnd == "" && !p.Anywhere {
		recEnd = "\n"
	}
	if p.Regexp && recEnd == "" && recStart == "" {
		recEnd = "(?s:.)" // parallel's --regexp --recend ''
	}
	r.recStart, r.recEnd = []byte(recStart), []byte(recEnd)
	r.sep = append(append([]byte(nil), recEnd...), recStart...)
	var err error
	if p.Header != "" {
		if r.header, err = regexp.Compile(`^(?:` + p.Header + `)`); err != nil {
			return nil, specErr("Pipe", "header %q: not a regular expression: %v", p.Header, err)
		}
	}
	if p.Regexp {
		end, start := `(?:`+recEnd+`)`, `(?:`+recStart+`)`
		for _, x := range []struct {
			re   **regexp.Regexp
			expr string
		}{
			{&r.cut, `(?m)\A((?s:.)*` + end + `)` + start},
			{&r.partCut, `(?s)\A(.*` + end + `)` + start},
			{&r.bound, `(?m)(` + end + `)` + start},
			{&r.startRe, `(?m)\A` + start},
			{&r.endRe, `(?m)` + end + `\z`},
			{&r.sepRe, `(?m)` + end + start},
		} {
			if *x.re, err = regexp.Compile(x.expr); err != nil {
				return nil, specErr("Pipe", "--recstart %q / --recend %q: not a regular expression: %v", p.RecStart, p.RecEnd, err)
			}
		}
	}
	return r, nil
}

// growBlock is GNU parallel's next block size when a record did not fit
// in a block: 1.3 times and one more, up to maxBlockSize. The product is
// rounded on its own (the conversion forbids a fused multiply-add), as
// Perl computes it.
func growBlock(bs int64) int64 {
	f := float64(float64(bs) * 1.3)
	n := int64(f + 1)
	if float64(n) < f+1 {
		n++
	}
	return min(n, maxBlockSize)
}

// blockWarning is GNU parallel's warning when a block grows.
func blockWarning(old, bs int64) string {
	return fmt.Sprintf("poolrun: Warning: A record was longer than %d. Increasing to --blocksize %d.\n", old, bs)
}
