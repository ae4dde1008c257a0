package batch

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
)

// GNU parallel's --plus replacement strings (Spec.Plus). parallel
// 20221122 defines each replacement string as a key (a literal such as
// {+.}, or a pattern such as {:-([^}]+?)}) and a perl expression, and
// finds them in the command by trying the keys longest first, each over
// the whole text not yet replaced, then its positional form ({2+.},
// {-1:-x}). parsePlus does the same with the same patterns, so that an
// argument that could be read two ways is read as parallel reads it.
// The values are parallel's perl substitutions written in Go; the
// regular expressions a user gives ({#re}, {/re/str}, …) are Go's (RE2:
// no look-around, no back-references), refused if they do not compile.

// plusRule is one replacement string of parallel with --plus.
type plusRule struct {
	key    string // parallel's key, for its length (the order) and messages
	prefix string // the text after '{' before the groups (":-", "+.")
	grp    string // the groups' pattern, Go's spelling of parallel's
	// make builds the part from the groups; nil: refused (refuse says why).
	make   func(g []string) (part, error)
	refuse string
	nonPos bool // a value of the job, not of an argument: no positional form
	re     *regexp.Regexp
	posRe  *regexp.Regexp
}

// plusRules are parallel 20221122's replacement strings with --plus, in
// the order it tries them: longest key first (keys of the same length
// cannot both match the same text, but for contrived ones).
var plusRules = []*plusRule{
	{key: `{/([^#%}/]+?)/([^}]*?)}`, prefix: "/", grp: `([^#%}/]+?)/([^}]*?)`, make: regexSub(``, ``, false)},
	{key: `{/#([^}]+?)/([^}]*?)}`, prefix: "/#", grp: `([^}]+?)/([^}]*?)`, make: regexSub(`^`, ``, false)},
	{key: `{/%([^}]+?)/([^}]*?)}`, prefix: "/%", grp: `([^}]+?)/([^}]*?)`, make: regexSub(``, `$`, false)},
	{key: `{//([^}]+?)/([^}]*?)}`, prefix: "//", grp: `([^}]+?)/([^}]*?)`, make: regexSub(``, ``, true)},
	{key: `{##([^#}][^}]*?)}`, prefix: "##", grp: `([^#}][^}]*?)`, make: trimPrefix(false)},
	{key: `{:(\d+?):(\d+?)}`, prefix: ":", grp: `(\d+?):(\d+?)`, make: substrPart},
	{key: `{#([^#}][^}]*?)}`, prefix: "#", grp: `([^#}][^}]*?)`, make: trimPrefix(true)},
	{key: `{:-([^}]+?)}`, prefix: ":-", grp: `([^}]+?)`, make: defaultPart},
	{key: `{%%([^}]+?)}`, prefix: "%%", grp: `([^}]+?)`, make: trimSuffix(false)},
	{key: `{^^([^}]+?)}`, prefix: "^^", grp: `([^}]+?)`, make: casePart(true, true)},
	{key: `{,,([^}]+?)}`, prefix: ",,", grp: `([^}]+?)`, make: casePart(false, true)},
	{key: `{%([^}]+?)}`, prefix: "%", grp: `([^}]+?)`, make: trimSuffix(true)},
	{key: `{^([^}]+?)}`, prefix: "^", grp: `([^}]+?)`, make: casePart(true, false)},
	{key: `{,([^}]+?)}`, prefix: ",", grp: `([^}]+?)`, make: casePart(false, false)},
	{key: `{choose_k}`, prefix: "choose_k", refuse: "skips jobs, which poolrun does not do"},
	{key: `{sshlogin}`, prefix: "sshlogin", refuse: "is the remote host's login, and poolrun runs no jobs on remote hosts"},
	{key: `{:(\d+?)}`, prefix: ":", grp: `(\d+?)`, make: skipPart},
	{key: `{+...}`, prefix: "+...", make: fixedPart(pathExt3)},
	{key: `{/...}`, prefix: "/...", make: fixedPart(func(s string) string { return noExt3(base(s)) })},
	{key: `{uniq}`, prefix: "uniq", refuse: "skips jobs, which poolrun does not do"},
	{key: `{slot}`, prefix: "slot", refuse: "is $PARALLEL_JOBSLOT left for the shell: use {%}"},
	{key: `{host}`, prefix: "host", refuse: "is the remote host, and poolrun runs no jobs on remote hosts"},
	{key: `{hgrp}`, prefix: "hgrp", refuse: "is the remote host's group, and poolrun runs no jobs on remote hosts"},
	{key: `{agrp}`, prefix: "agrp", refuse: "is the argument's host group, and poolrun runs no jobs on remote hosts"},
	{key: `{+..}`, prefix: "+..", make: fixedPart(pathExt2)},
	{key: `{...}`, prefix: "...", make: fixedPart(noExt3)},
	{key: `{/..}`, prefix: "/..", make: fixedPart(func(s string) string { return noExt2(base(s)) })},
	{key: `{//}`, prefix: "//", make: kindPart(pDir)},
	{key: `{/.}`, prefix: "/.", make: kindPart(pBaseNoEx)},
	{key: `{+/}`, prefix: "+/", make: fixedPart(pathDir)},
	{key: `{+.}`, prefix: "+.", make: fixedPart(pathExt)},
	{key: `{..}`, prefix: "..", make: fixedPart(noExt2)},
	{key: `{##}`, prefix: "##", make: kindPart(pTotal), nonPos: true},
	{key: `{0%}`, prefix: "0%", make: kindPart(pSlot0), nonPos: true},
	{key: `{0#}`, prefix: "0#", make: kindPart(pSeq0), nonPos: true},
	{key: `{#}`, prefix: "#", make: kindPart(pSeq), nonPos: true},
	{key: `{%}`, prefix: "%", make: kindPart(pSlot), nonPos: true},
	{key: `{/}`, prefix: "/", make: kindPart(pBase)},
	{key: `{.}`, prefix: ".", make: kindPart(pNoExt)},
	{key: `{}`, prefix: "", make: kindPart(pInput)},
}

func init() {
	for _, r := range plusRules {
		r.re = regexp.MustCompile(`\{` + regexp.QuoteMeta(r.prefix) + r.grp + `\}`)
		r.posRe = regexp.MustCompile(`\{(-?\d+)\s*` + regexp.QuoteMeta(r.prefix) + r.grp + `\}`)
	}
}

// plusSeg is a piece of an argument while parsePlus reads it: text not
// yet replaced, or a replacement string found.
type plusSeg struct {
	text string
	p    *part
}

// parsePlus splits s into literal text and replacement strings as GNU
// parallel does with --plus. What is left once every key was tried must
// hold no '{' that looks like a replacement string (as without --plus).
func parsePlus(s string) (template, error) {
	segs := []plusSeg{{text: s}}
	for _, r := range plusRules {
		for _, positional := range []bool{false, true} {
			re := r.re
			if positional {
				re = r.posRe
			}
			var out []plusSeg
			for _, sg := range segs {
				if sg.p != nil || !strings.Contains(sg.text, "{") {
					out = append(out, sg)
					continue
				}
				text := sg.text
				for {
					m := re.FindStringSubmatchIndex(text)
					if m == nil {
						break
					}
					p, err := r.build(text, m, positional, s)
					if err != nil {
						return template{}, err
					}
					if m[0] > 0 {
						out = append(out, plusSeg{text: text[:m[0]]})
					}
					out = append(out, plusSeg{p: p})
					text = text[m[1]:]
				}
				if text != "" {
					out = append(out, plusSeg{text: text})
				}
			}
			segs = out
		}
	}
	var t template
	for _, sg := range segs {
		if sg.p != nil {
			t.parts = append(t.parts, *sg.p)
			t.repl = true
			continue
		}
		// What no key matched is text; parsed alone, it must have no
		// replacement string (an unknown {.x}, a {=perl=}, a '{' at the
		// end), as without --plus.
		if _, err := parseBasic(sg.text, false); err != nil {
			return template{}, fmt.Errorf("%v (in %q, with --plus)", err, s)
		}
		if n := len(t.parts); n > 0 && t.parts[n-1].kind == pLit {
			t.parts[n-1].lit += sg.text
		} else {
			t.parts = append(t.parts, part{kind: pLit, lit: sg.text})
		}
	}
	if len(t.parts) == 0 {
		t.parts = []part{{kind: pLit}}
	}
	t.requote()
	t.splitSpans()
	return t, nil
}

// isPlus reports whether s is one replacement string of --plus.
func isPlus(s string) bool {
	t, err := parsePlus(s)
	return err == nil && len(t.parts) == 1 && t.parts[0].kind != pLit
}

// requote sets each replacement string's shell quoting from the literal
// text before it.
func (t *template) requote() {
	var stack []byte
	esc := false
	for i := range t.parts {
		p := &t.parts[i]
		if p.kind == pLit {
			stack, esc = shellScan(stack, p.lit)
			continue
		}
		p.q, p.esc = stateOf(stack), esc
		esc = false
	}
}

// build makes the part for the match m of r in text (its positional
// form if positional); s is the whole argument, for messages.
func (r *plusRule) build(text string, m []int, positional bool, s string) (*part, error) {
	src := text[m[0]:m[1]]
	if r.make == nil {
		return nil, fmt.Errorf("%s in %q: GNU parallel's --plus %s %s", src, s, r.key, r.refuse)
	}
	var groups []string
	col, back := 0, false
	first := 2
	if positional {
		pos := text[m[2]:m[3]]
		if r.nonPos {
			return nil, fmt.Errorf("%s in %q: %s is a value of the job, not of an argument: it has no positional form", src, s, r.key)
		}
		digits := strings.TrimPrefix(pos, "-")
		n, err := strconv.Atoi(digits)
		if err != nil || n < 1 || digits[0] == '0' {
			return nil, fmt.Errorf("%s in %q: positional replacement strings count from {1} (or from the last, {-1})", src, s)
		}
		col, back = n, pos[0] == '-'
		first = 4
	}
	for i := first; i+1 < len(m); i += 2 {
		groups = append(groups, text[m[i]:m[i+1]])
	}
	p, err := r.make(groups)
	if err != nil {
		return nil, fmt.Errorf("%s in %q: %v", src, s, err)
	}
	p.col, p.back, p.src = col, back, src
	return &p, nil
}

func kindPart(k partKind) func([]string) (part, error) {
	return func([]string) (part, error) { return part{kind: k}, nil }
}

func fixedPart(fn func(string) string) func([]string) (part, error) {
	return func([]string) (part, error) { return part{kind: pFunc, fn: fn}, nil }
}

// perlEnd is Perl's '$' (without /m) at the end of a pattern: the end of
// the text, or just before a newline that ends it. The group keeps that
// newline, which the replacement puts back.
const perlEnd = `(\n?)\z`

// perlSub is Perl's s/re/…/ (all: s///g) for one argument: each match,
// its submatch indexes in m, replaced by repl's text.
func perlSub(re *regexp.Regexp, s string, all bool, repl func(m []int) string) (string, bool) {
	ms := re.FindAllStringSubmatchIndex(s, 1)
	if all {
		ms = re.FindAllStringSubmatchIndex(s, -1)
	}
	if ms == nil {
		return s, false
	}
	var b strings.Builder
	last := 0
	for _, m := range ms {
		b.WriteString(s[last:m[0]])
		b.WriteString(repl(m))
		last = m[1]
	}
	b.WriteString(s[last:])
	return b.String(), true
}

// group is submatch i of m in s ("" if it did not take part).
func group(s string, m []int, i int) string {
	if 2*i+1 >= len(m) || m[2*i] < 0 {
		return ""
	}
	return s[m[2*i]:m[2*i+1]]
}

// endGroup is the text the perlEnd group at the end of re kept.
func endGroup(re *regexp.Regexp, s string, m []int) string { return group(s, m, re.NumSubexp()) }

var (
	reLastSlash = regexp.MustCompile(`/[^/]*` + perlEnd)
	reAll       = regexp.MustCompile(`.*` + perlEnd)
	reToDot     = regexp.MustCompile(`.*\.`)
	reExt2      = regexp.MustCompile(`.*\.([^/.]*\.[^/.]*)` + perlEnd)
	reExt3      = regexp.MustCompile(`.*\.([^/.]*\.[^/.]*\.[^/.]*)` + perlEnd)
	reNoExt2    = regexp.MustCompile(`\.[^/.]*\.[^/.]*` + perlEnd)
	reNoExt3    = regexp.MustCompile(`\.[^/.]*\.[^/.]*\.[^/.]*` + perlEnd)
)

// subEnd is Perl's s/re// (s/re/$keep/ if keep > 0) for a re that ends
// in perlEnd.
func subEnd(re *regexp.Regexp, s string, keep int) (string, bool) {
	return perlSub(re, s, false, func(m []int) string {
		if keep > 0 {
			return group(s, m, keep) + endGroup(re, s, m)
		}
		return endGroup(re, s, m)
	})
}

// orAll is parallel's "|| s:.*$::": when the first substitution did not
// match, everything on the last line goes.
func orAll(r string, ok bool) string {
	if ok {
		return r
	}
	r, _ = subEnd(reAll, r, 0)
	return r
}

// pathDir is {+/}: s:/[^/]*$:: || s:.*$:: ("a/b/c" → "a/b", "c" → "").
func pathDir(s string) string { return orAll(subEnd(reLastSlash, s, 0)) }

// pathExt is {+.}: s:.*\.:: || s:.*$:: ("a.tar.gz" → "gz", "a" → "").
func pathExt(s string) string {
	return orAll(perlSub(reToDot, s, false, func([]int) string { return "" }))
}

// pathExt2 is {+..}: s:.*\.([^/.]*\.[^/.]*)$:$1: || s:.*$::.
func pathExt2(s string) string { return orAll(subEnd(reExt2, s, 1)) }

// pathExt3 is {+...}: s:.*\.([^/.]*\.[^/.]*\.[^/.]*)$:$1: || s:.*$::.
func pathExt3(s string) string { return orAll(subEnd(reExt3, s, 1)) }

// noExt2 is {..}: s:\.[^/.]*\.[^/.]*$:: ("a.tar.gz" → "a").
func noExt2(s string) string { r, _ := subEnd(reNoExt2, s, 0); return r }

// noExt3 is {...}: s:\.[^/.]*\.[^/.]*\.[^/.]*$::.
func noExt3(s string) string { r, _ := subEnd(reNoExt3, s, 0); return r }

// compileUser compiles a regular expression given in a replacement
// string, saying what is wrong if Go's RE2 cannot take it.
func compileUser(expr string) (*regexp.Regexp, error) {
	re, err := regexp.Compile(expr)
	if err != nil {
		return nil, fmt.Errorf("%v: poolrun takes Go's regular expressions (RE2: no look-around, no back-references), where GNU parallel takes perl's", err)
	}
	return re, nil
}

// regexSub is {/re/str} (s/re/str/), {/#re/str} (s/^re/str/),
// {/%re/str} (s/re$/str/) and {//re/str} (s/re/str/g): str is literal.
func regexSub(pre, post string, all bool) func([]string) (part, error) {
	return func(g []string) (part, error) {
		expr := pre + g[0]
		if post == "$" {
			expr += perlEnd
		}
		re, err := compileUser(expr)
		if err != nil {
			return part{}, err
		}
		str := g[1]
		end := post == "$"
		return part{kind: pFunc, fn: func(s string) string {
			r, _ := perlSub(re, s, all, func(m []int) string {
				if end {
					return str + endGroup(re, s, m)
				}
				return str
			})
			return r
		}}, nil
	}
}

// ungreedy is parallel's make_regexp_ungreedy: a '?' after each
// quantifier (* + and {…}) outside a character class that has none.
func ungreedy(re string) string {
	var b strings.Builder
	class, esc, found := false, false, false
	for i := 0; i < len(re); i++ {
		c := re[i]
		if found {
			if c != '?' {
				b.WriteByte('?')
			}
			found = false
		}
		b.WriteByte(c)
		switch {
		case esc:
			esc = false
		case c == '\\':
			esc = true
		case c == '[':
			class = true
		case class:
			if c == ']' {
				class = false
			}
		case c == '*' || c == '}' || c == '+':
			found = true
		}
	}
	if found {
		b.WriteByte('?')
	}
	return b.String()
}

// trimPrefix is {#re} (s/^UNGREEDY(.*)/$1/: $1 is the first group,
// whichever it is) and {##re} (s/^re//).
func trimPrefix(nonGreedy bool) func([]string) (part, error) {
	return func(g []string) (part, error) {
		if !nonGreedy {
			re, err := compileUser("^" + g[0])
			if err != nil {
				return part{}, err
			}
			return part{kind: pFunc, fn: func(s string) string {
				r, _ := perlSub(re, s, false, func([]int) string { return "" })
				return r
			}}, nil
		}
		re, err := compileUser("^" + ungreedy(g[0]) + "(.*)")
		if err != nil {
			return part{}, err
		}
		return part{kind: pFunc, fn: func(s string) string {
			r, _ := perlSub(re, s, false, func(m []int) string { return group(s, m, 1) })
			return r
		}}, nil
	}
}

// trimSuffix is {%re} (s/(.*)UNGREEDY$/$1/) and {%%re} (s/re$//).
func trimSuffix(nonGreedy bool) func([]string) (part, error) {
	return func(g []string) (part, error) {
		expr := g[0] + perlEnd
		if nonGreedy {
			expr = "(.*)" + ungreedy(g[0]) + perlEnd
		}
		re, err := compileUser(expr)
		if err != nil {
			return part{}, err
		}
		return part{kind: pFunc, fn: func(s string) string {
			r, _ := perlSub(re, s, false, func(m []int) string {
				if nonGreedy {
					return group(s, m, 1) + endGroup(re, s, m)
				}
				return endGroup(re, s, m)
			})
			return r
		}}, nil
	}
}

// casePart is {^re} (s/^(re)/uc($1)/e), {^^re} (s/(re)/uc($1)/eg),
// {,re} and {,,re} (lc). As perl's uc and lc on bytes, only ASCII
// letters change.
func casePart(upper, all bool) func([]string) (part, error) {
	return func(g []string) (part, error) {
		expr := "(" + g[0] + ")"
		if !all {
			expr = "^" + expr
		}
		re, err := compileUser(expr)
		if err != nil {
			return part{}, err
		}
		conv := asciiLower
		if upper {
			conv = asciiUpper
		}
		return part{kind: pFunc, fn: func(s string) string {
			r, _ := perlSub(re, s, all, func(m []int) string { return conv(group(s, m, 1)) })
			return r
		}}, nil
	}
}

func asciiUpper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'a' && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}

func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c - 'A' + 'a'
		}
	}
	return string(b)
}

// defaultPart is {:-str}: $_ ||= str, so str for an empty argument and,
// as in perl, for "0".
func defaultPart(g []string) (part, error) {
	str := g[0]
	return part{kind: pFunc, fn: func(s string) string {
		if s == "" || s == "0" {
			return str
		}
		return s
	}}, nil
}

// bigNum is a number of a replacement string: too large for an int, it
// is past the end of any argument.
func bigNum(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		return math.MaxInt
	}
	return n
}

// skipPart is {:N}: the argument without its first N bytes.
func skipPart(g []string) (part, error) {
	n := bigNum(g[0])
	return part{kind: pFunc, fn: func(s string) string {
		if n >= len(s) {
			return ""
		}
		return s[n:]
	}}, nil
}

// substrPart is {:N:M}: M bytes from byte N (perl's substr).
func substrPart(g []string) (part, error) {
	n, l := bigNum(g[0]), bigNum(g[1])
	return part{kind: pFunc, fn: func(s string) string {
		if n >= len(s) {
			return ""
		}
		s = s[n:]
		if l < len(s) {
			s = s[:l]
		}
		return s
	}}, nil
}

// padWidth is the width parallel pads {0#} and {0%} to for n:
// 1+int(log(n)/log(10)) in floating point, as parallel computes it (so
// 1000 gets 3 digits).
func padWidth(n int) int {
	if n < 1 {
		n = 1
	}
	return 1 + int(math.Log(float64(n))/math.Log(10))
}

// appendPadded appends n zero-padded to width.
func appendPadded(b []byte, n, width int) []byte {
	s := strconv.Itoa(n)
	for i := len(s); i < width; i++ {
		b = append(b, '0')
	}
	return append(b, s...)
}

// parallelQuote is GNU parallel's shell quoting (its Q).
func parallelQuote(s string) string { return string(appendShellQuote(nil, s)) }
