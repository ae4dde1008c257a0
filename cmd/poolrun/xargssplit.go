package main

import (
	"bufio"
	"errors"
	"io"
	"unsafe"
)

// xargsSplitter reads GNU xargs's input: by default arguments separated
// by blanks and newlines, with its quote and backslash rules (its
// read_line); with -0 or -d, items that end with a delimiter byte and are
// taken as they are (its read_string). It is a transcription of
// findutils 4.9's state machine, quirks included, since scripts depend on
// them: a line that ends with a blank goes on on the next line (for -L),
// an argument ” at the very end of the input without a newline is lost,
// the logical end-of-file string (-E) counts only as a whole argument.
type xargsSplitter struct {
	r       *bufio.Reader
	delim   int    // -1: blanks and quotes; else the delimiter byte
	replace bool   // -I: blanks do not separate arguments, a line is one
	eofStr  string // -E: this argument ends the input ("": none)
	// maxLen is the longest argument (with its NUL, as xargs counts):
	// reading a longer one fails with "argument line too long". The
	// builder keeps it up to date (it shrinks by the initial arguments).
	maxLen int
	// warn prints a warning (the NUL one) on stderr.
	warn func(msg string)

	eof       bool
	nulWarned bool
	buf       []byte
	args      []string // readLine's result, reused: valid until the next call
	arena     []byte   // the arguments' bytes; never written twice
}

// str is b as a string whose bytes live in the arena: one allocation per
// 64 KiB of arguments instead of one per argument (a string of an arena
// is never changed: the arena only grows, then is replaced).
func (s *xargsSplitter) str(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if cap(s.arena)-len(s.arena) < len(b) {
		s.arena = make([]byte, 0, max(64<<10, len(b)))
	}
	start := len(s.arena)
	s.arena = append(s.arena, b...)
	return unsafe.String(&s.arena[start], len(b))
}

// plainByte is a byte with no meaning to readLine in an argument: not a
// blank, a newline, a backslash, a quote or a NUL.
var plainByte = func() (t [256]bool) {
	for i := range t {
		t[i] = true
	}
	for _, c := range " \t\n\\'\"\x00" {
		t[c] = false
	}
	return t
}()

// errXargsInput is bad input: xargs prints it and exits 1, once the
// commands built before it have run.
type errXargsInput struct{ msg string }

func (e *errXargsInput) Error() string { return e.msg }

var errLineTooLong = &errXargsInput{"argument line too long"}

func errUnmatched(q byte) error {
	which := "single"
	if q == '"' {
		which = "double"
	}
	return &errXargsInput{"unmatched " + which + " quote; by default quotes are special to xargs unless you use the -0 option"}
}

// readLine reads one line's arguments (one item with -0/-d). lines is how
// many input lines ended (what -L counts). done: the input has ended (the
// end of the stream, or the -E string); no more calls. err: bad input,
// after the arguments in args (they were read before it).
func (s *xargsSplitter) readLine() (args []string, lines int, done bool, err error) {
	if s.eof {
		return nil, 0, true, nil
	}
	if s.delim >= 0 {
		return s.readItem()
	}
	const (
		stSpace = iota
		stNorm
		stQuote
		stBackslash
	)
	state := stSpace
	var quotc byte
	prevc, c := -1, -1
	first := true
	seenArg := false
	s.buf = s.buf[:0]
	args = s.args[:0]
	defer func() { s.args = args[:0] }()
	for {
		if state == stNorm && len(s.buf) < s.maxLen-1 {
			// Fast path: a run of plain bytes, straight from the buffer
			// (the same as storing them one by one; blanks are plain
			// with -I).
			if avail := s.r.Buffered(); avail > 0 {
				peek, _ := s.r.Peek(avail)
				n := 0
				for n < len(peek) && (plainByte[peek[n]] || s.replace && (peek[n] == ' ' || peek[n] == '\t')) {
					n++
				}
				n = min(n, s.maxLen-1-len(s.buf))
				if n > 0 {
					c = int(peek[n-1])
					s.buf = append(s.buf, peek[:n]...)
					s.r.Discard(n)
					seenArg = true
				}
			}
		}
		prevc = c
		b, rerr := s.r.ReadByte()
		if rerr != nil {
			if !errors.Is(rerr, io.EOF) {
				return args, lines, true, &errXargsInput{"read error: " + rerr.Error()}
			}
			s.eof = true
			if len(s.buf) == 0 {
				return args, lines, true, nil
			}
			if state == stQuote {
				return args, lines, true, errUnmatched(quotc)
			}
			if first && s.isEOFStr() {
				return args, lines, true, nil
			}
			args = append(args, s.str(s.buf))
			return args, lines, true, nil
		}
		c = int(b)
		switch state {
		case stSpace:
			if isXargsSpace(b) {
				continue
			}
			state = stNorm
			fallthrough
		case stNorm:
			if b == '\n' {
				if !isXargsBlank(prevc) {
					lines++
				}
				if len(s.buf) == 0 && !seenArg {
					state = stSpace // a blank line
					continue
				}
				if s.isEOFStr() {
					s.eof = true
					return args, lines, true, nil
				}
				args = append(args, s.str(s.buf))
				return args, lines, false, nil
			}
			seenArg = true
			if !s.replace && isXargsBlank(c) {
				if s.isEOFStr() {
					s.eof = true
					return args, lines, true, nil
				}
				args = append(args, s.str(s.buf))
				s.buf = s.buf[:0]
				state = stSpace
				first = false
				continue
			}
			switch b {
			case '\\':
				state = stBackslash
				continue
			case '\'', '"':
				state = stQuote
				quotc = b
				continue
			}
		case stQuote:
			if b == '\n' {
				s.eof = true
				return args, lines, true, errUnmatched(quotc)
			}
			if b == quotc {
				state = stNorm
				seenArg = true
				continue
			}
		case stBackslash:
			state = stNorm
		}
		if b == 0 && !s.nulWarned {
			s.nulWarned = true
			if s.warn != nil {
				s.warn("WARNING: a NUL character occurred in the input.  It cannot be passed through in the argument list.  Did you mean to use the --null option?")
			}
		}
		if len(s.buf) >= s.maxLen-1 {
			s.eof = true
			return args, lines, true, errLineTooLong
		}
		s.buf = append(s.buf, b)
	}
}

// readItem is readLine for -0 and -d: text up to the delimiter, as it is.
func (s *xargsSplitter) readItem() (args []string, lines int, done bool, err error) {
	s.buf = s.buf[:0]
	for {
		b, rerr := s.r.ReadByte()
		if rerr != nil {
			if !errors.Is(rerr, io.EOF) {
				return nil, 0, true, &errXargsInput{"read error: " + rerr.Error()}
			}
			s.eof = true
			if len(s.buf) == 0 {
				return nil, 0, true, nil
			}
			return []string{string(s.buf)}, 0, true, nil
		}
		if int(b) == s.delim {
			return []string{string(s.buf)}, 1, false, nil
		}
		if len(s.buf) >= s.maxLen-1 {
			s.eof = true
			return nil, 0, true, errLineTooLong
		}
		s.buf = append(s.buf, b)
	}
}

func (s *xargsSplitter) isEOFStr() bool {
	return s.eofStr != "" && string(s.buf) == s.eofStr
}

// isXargsBlank is xargs's ISBLANK: space and tab (c may be -1: none).
func isXargsBlank(c int) bool { return c == ' ' || c == '\t' }

// isXargsSpace is xargs's ISSPACE, what it skips between arguments.
func isXargsSpace(b byte) bool {
	return b == ' ' || b == '\t' || b == '\n' || b == '\r' || b == '\f' || b == '\v'
}
