package batch

import (
	"fmt"
	"io"
	"strings"
)

// Packing puts several inputs into each job, as many as fit on one
// command line (GNU parallel's -m, -X, --xargs, -s, -N, -L). The size of
// a command line is GNU parallel's: that of the shell script, each
// replacement quoted, the command's words joined with spaces.
type Packing struct {
	// MaxInputs is the most inputs a job takes; 0: as many as fit.
	MaxInputs int
	// MaxChars is the size a job's command line stays under (GNU
	// parallel's -s: a line fits if it is shorter); 0: DefaultMaxChars. An input
	// whose command line alone does not fit stops the batch with a
	// *TooLongError.
	MaxChars int
	// Spread deals the inputs of the line that takes the last of them
	// evenly over the job slots, ceil(n/slots) a line, rather than
	// leaving the other slots idle (GNU parallel's -m and -X; --xargs
	// fills lines): -j 4 -m over 6 short inputs runs 2, 2, 2.
	Spread bool
	// Context repeats each word of the command that holds {} (or one of
	// its modifiers) once per argument of a job with several inputs: -X
	// makes echo x{}y with a b into echo xay xby. Without it {} is the
	// arguments joined with spaces: echo xa by (-m).
	Context bool
}

// DefaultMaxChars is the command line size Packing stays under when its
// MaxChars is 0: GNU parallel's on Linux, half of what is left of the
// longest line sh -c takes (130329 bytes: one argument is at most 128
// KiB) once 3000 bytes are set aside: (130329-3000)/2.
const DefaultMaxChars = 63664

// TooLongError is an input whose command line alone is too long for
// Packing.MaxChars: nothing runs for it, and the batch stops.
type TooLongError struct {
	Len, Max int    // the command line's size, and the limit it is not under
	Input    string // the input, its arguments joined with spaces (50 bytes at most, then ...)
	Index    int    // how many inputs came before it
}

func (e *TooLongError) Error() string {
	return fmt.Sprintf("batch: command line too long (%d >= %d) at input %d: %s", e.Len, e.Max, e.Index, e.Input)
}

// packed is one job's arguments and how many inputs they came from.
type packed struct {
	args   []string
	inputs int
}

// packSource groups src's inputs into jobs under p's limits, sizing each
// job's command line with cmd.
type packSource struct {
	src   Source
	p     Packing
	cmd   *command
	slots int

	buf     [][]string // inputs read ahead
	read    int        // inputs read from src
	eof     bool
	err     error
	spread  bool // Spread: done (once, at the line that took the last inputs)
	spreadN int  // Spread: inputs per job from then on (0: fill lines)
	scratch []byte
}

func newPackSource(src Source, p Packing, cmd *command, slots int) *packSource {
	if p.MaxChars <= 0 {
		p.MaxChars = DefaultMaxChars
	}
	return &packSource{src: src, p: p, cmd: cmd, slots: slots}
}

// Next is for the Source interface; the feed calls nextPacked.
func (s *packSource) Next() ([]string, error) {
	pk, err := s.nextPacked()
	return pk.args, err
}

// fill reads inputs until n are buffered or src ends.
func (s *packSource) fill(n int) {
	for len(s.buf) < n && !s.eof {
		in, err := s.src.Next()
		if err != nil {
			s.eof = true
			if err != io.EOF {
				s.err = err
			}
			return
		}
		s.buf = append(s.buf, in)
		s.read++
	}
}

// lineLen is the size of the command line of a job with these inputs;
// multi: rendered as a job of several inputs (context replace, if on).
func (s *packSource) lineLen(inputs [][]string, multi bool) int {
	var args []string
	for _, in := range inputs {
		args = append(args, in...)
	}
	v := jobVars{args: args, seq: 1, slot: 1, context: multi && s.p.Context}
	return s.cmd.shellLen(&v, &s.scratch)
}

func (s *packSource) nextPacked() (packed, error) {
	s.fill(1)
	if len(s.buf) == 0 {
		if s.err != nil {
			return packed{}, s.err
		}
		return packed{}, io.EOF
	}
	limit := s.p.MaxInputs
	if s.spreadN > 0 && (limit == 0 || s.spreadN < limit) {
		limit = s.spreadN
	}
	first := s.buf[0]
	if n := s.lineLen(s.buf[:1], false); n >= s.p.MaxChars {
		in := strings.Join(first, " ")
		if len(in) > 50 {
			in = in[:50] + "..."
		}
		return packed{}, &TooLongError{Len: n, Max: s.p.MaxChars, Input: in, Index: s.read - len(s.buf)}
	}
	// The line's size is affine in the inputs (each adds its words), so
	// it is followed with two renders per input, not one of the whole
	// line per input.
	total := s.lineLen(s.buf[:1], true)
	n := 1
	for limit == 0 || n < limit {
		s.fill(n + 1)
		if len(s.buf) <= n {
			break
		}
		in := s.buf[n]
		cost := s.lineLen([][]string{in, in}, true) - s.lineLen([][]string{in}, true)
		if total+cost >= s.p.MaxChars {
			break
		}
		total += cost
		n++
	}
	// The model is exact for commands whose words each depend on one
	// input; make sure anyway.
	for n > 1 && s.lineLen(s.buf[:n], true) >= s.p.MaxChars {
		n--
	}
	if s.p.Spread && !s.spread && s.slots > 0 {
		// GNU parallel's -m and -X: the line that takes the last inputs
		// is dealt over the job slots, ceil(n/slots) a line from then on.
		s.fill(n + 1)
		if s.eof && len(s.buf) == n {
			s.spread = true
			if n > 1 {
				s.spreadN = (n + s.slots - 1) / s.slots
				n = s.spreadN
			}
		}
	}
	pk := packed{inputs: n}
	for _, in := range s.buf[:n] {
		pk.args = append(pk.args, in...)
	}
	s.buf = s.buf[n:]
	return pk, nil
}

// SkipBlank is src without the inputs whose arguments are all empty or
// blank (GNU parallel's -r, --no-run-if-empty).
func SkipBlank(src Source) Source { return &skipBlankSource{src: src} }

type skipBlankSource struct{ src Source }

func (s *skipBlankSource) Next() ([]string, error) {
	for {
		in, err := s.src.Next()
		if err != nil {
			return nil, err
		}
		for _, a := range in {
			if strings.TrimSpace(a) != "" {
				return in, nil
			}
		}
	}
}

// UntilEOF is src up to the input equal to eof, which ends it (GNU
// parallel's -E: a logical end-of-file string).
func UntilEOF(src Source, eof string) Source { return &untilSource{src: src, eof: eof} }

type untilSource struct {
	src  Source
	eof  string
	done bool
}

func (s *untilSource) Next() ([]string, error) {
	if s.done {
		return nil, io.EOF
	}
	in, err := s.src.Next()
	if err == nil && len(in) == 1 && in[0] == s.eof {
		s.done = true
		return nil, io.EOF
	}
	return in, err
}
