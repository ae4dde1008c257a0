package main

import (
	"fmt"
	"strconv"
	"strings"
)

// A template is one command argument split into literal text and
// replacement strings, parsed once and rendered per job.
type template struct {
	parts []part
	repl  bool // has at least one replacement string
}

// part is literal text (kind 0) or a replacement string.
type part struct {
	kind partKind
	lit  string
}

type partKind uint8

const (
	pLit      partKind = iota
	pInput             // {}    the input
	pNoExt             // {.}   the input without its extension
	pBase              // {/}   basename
	pDir               // {//}  dirname
	pBaseNoEx          // {/.}  basename without extension
	pSeq               // {#}   job number, from 1
	pSlot              // {%}   slot number, 1..-j
)

var replNames = map[string]partKind{
	"": pInput, ".": pNoExt, "/": pBase, "//": pDir, "/.": pBaseNoEx, "#": pSeq, "%": pSlot,
}

// replChar reports whether c can start a replacement string after '{':
// a '{' followed by one of these must form a known replacement string,
// anything else ("{print $1}", "{ a; }") is literal text.
func replChar(c byte) bool {
	return c == '}' || c == '.' || c == '/' || c == '#' || c == '%' || c == '=' || c >= '0' && c <= '9'
}

// parseTemplate splits s into literal text and replacement strings. It
// fails on a '{' that ends the argument or starts an unterminated or
// unknown replacement string, naming what is wrong.
func parseTemplate(s string) (template, error) {
	var t template
	lit := strings.Builder{}
	for i := 0; i < len(s); {
		c := s[i]
		if c != '{' {
			j := strings.IndexByte(s[i:], '{')
			if j < 0 {
				j = len(s) - i
			}
			lit.WriteString(s[i : i+j])
			i += j
			continue
		}
		if i+1 == len(s) {
			return t, fmt.Errorf("unterminated '{' at the end of %q: replacement strings are {} {.} {/} {//} {/.} {#} {%%}", s)
		}
		if !replChar(s[i+1]) {
			lit.WriteByte('{') // "{print $1}": not a replacement string
			i++
			continue
		}
		end := strings.IndexByte(s[i+1:], '}')
		if end < 0 {
			return t, fmt.Errorf("unterminated %q in %q: replacement strings are {} {.} {/} {//} {/.} {#} {%%}", s[i:], s)
		}
		name := s[i+1 : i+1+end]
		k, ok := replNames[name]
		if !ok {
			if strings.HasPrefix(name, "=") {
				return t, fmt.Errorf("{%s} in %q: perl expressions {=...=} are not supported", name, s)
			}
			if _, err := strconv.Atoi(name); err == nil {
				return t, fmt.Errorf("{%s} in %q: poolrun has one input column, use {} (positional {N} is not supported)", name, s)
			}
			return t, fmt.Errorf("unknown replacement string {%s} in %q: use {} {.} {/} {//} {/.} {#} {%%}", name, s)
		}
		if lit.Len() > 0 {
			t.parts = append(t.parts, part{kind: pLit, lit: lit.String()})
			lit.Reset()
		}
		t.parts = append(t.parts, part{kind: k})
		t.repl = true
		i += end + 2
	}
	if lit.Len() > 0 || len(t.parts) == 0 {
		t.parts = append(t.parts, part{kind: pLit, lit: lit.String()})
	}
	return t, nil
}

// literal returns the template's text if it has no replacement string.
func (t *template) literal() (string, bool) {
	if t.repl {
		return "", false
	}
	return t.parts[0].lit, true
}

// jobVars is what a template is rendered with.
type jobVars struct {
	input string
	seq   int
	slot  int
}

// render appends the template rendered for v to b; quote, if set, is
// applied to each replacement (shell mode).
func (t *template) render(b []byte, v *jobVars, quote bool) []byte {
	for i := range t.parts {
		p := &t.parts[i]
		var r string
		switch p.kind {
		case pLit:
			b = append(b, p.lit...)
			continue
		case pInput:
			r = v.input
		case pNoExt:
			r = noExt(v.input)
		case pBase:
			r = base(v.input)
		case pDir:
			r = dir(v.input)
		case pBaseNoEx:
			r = noExt(base(v.input))
		case pSeq:
			b = strconv.AppendInt(b, int64(v.seq), 10)
			continue
		case pSlot:
			b = strconv.AppendInt(b, int64(v.slot), 10)
			continue
		}
		if quote {
			b = appendShellQuote(b, r)
		} else {
			b = append(b, r...)
		}
	}
	return b
}

// base is GNU parallel's {/}: the input after its last '/'.
func base(s string) string {
	if i := strings.LastIndexByte(s, '/'); i >= 0 {
		return s[i+1:]
	}
	return s
}

// dir is GNU parallel's {//}: the input before its last '/' ("." if none).
func dir(s string) string {
	i := strings.LastIndexByte(s, '/')
	switch {
	case i < 0:
		return "."
	case i == 0:
		return "/"
	}
	return s[:i]
}

// noExt is GNU parallel's {.}: the input without the extension of its
// last path element ("a/b.tar.gz" → "a/b.tar", "a.d/b" → "a.d/b").
func noExt(s string) string {
	i := strings.LastIndexByte(s, '.')
	if i <= 0 || strings.IndexByte(s[i:], '/') >= 0 || s[i-1] == '/' {
		return s
	}
	return s[:i]
}

// appendShellQuote appends s quoted for sh: bare if it is made of safe
// characters only, else in single quotes.
func appendShellQuote(b []byte, s string) []byte {
	if s != "" && shellSafe(s) {
		return append(b, s...)
	}
	b = append(b, '\'')
	for i := 0; i < len(s); i++ {
		if s[i] == '\'' {
			b = append(b, `'\''`...)
		} else {
			b = append(b, s[i])
		}
	}
	return append(b, '\'')
}

func shellSafe(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '-' || c == '_' || c == '.' || c == '/' || c == ',' || c == ':' || c == '=' || c == '+' || c == '@' || c == '%') {
			return false
		}
	}
	return true
}

// needsShell reports whether a one-word command is shell code
// ("gzip {} && rm {}") rather than a program name.
func needsShell(s string) bool {
	return strings.ContainsAny(s, " \t\n;&|<>()$`\\\"'*?[]#~!")
}
