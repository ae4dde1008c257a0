package batch

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
	// spans is parts split into words and the blanks between them, for
	// context replace (Packing.Context); context: a word holds {} or one
	// of its modifiers, and so is repeated for each argument.
	spans   []span
	context bool
}

// span is one word of a template, or a run of blanks between words.
type span struct {
	parts   []part
	context bool
}

// part is literal text (kind 0) or a replacement string.
type part struct {
	kind partKind
	col  int  // the input's column (argument) a replacement string takes, from 1; 0: all of them
	back bool // col counts from the last argument ({-1} is the last)
	lit  string
	fn   func(string) string // pFunc: the value of one argument (--plus)
	src  string              // --plus: the replacement string as written
	q    quoteState          // shell mode: the quoting the replacement string sits in
	esc  bool                // shell mode: a backslash right before it escapes its first byte
}

// quoteState is where a replacement string sits in shell code: bare, or
// inside '...' or "..." (a $(...) or `...` inside "..." is bare again).
type quoteState uint8

const (
	qBare quoteState = iota
	qSingle
	qDouble
	qBacktick // inside `...`: refused (sh strips backslashes in it before it parses quotes)
)

// shellScan follows sh's quoting through text, starting in the state on
// top of stack (bare if empty), and returns the stack after it, and
// whether text ends with a backslash that escapes what follows. It knows
// '...', "...", backslash escapes, $(...) and `...`; nothing else of sh
// changes how a word is quoted.
func shellScan(stack []byte, text string) ([]byte, bool) {
	escaped := false
	top := func() byte {
		if len(stack) == 0 {
			return 0
		}
		return stack[len(stack)-1]
	}
	for i := 0; i < len(text); i++ {
		c := text[i]
		switch top() {
		case '\'':
			if c == '\'' {
				stack = stack[:len(stack)-1]
			}
		case '"':
			switch {
			case c == '\\':
				i++
				escaped = i == len(text)
			case c == '"':
				stack = stack[:len(stack)-1]
			case c == '`':
				stack = append(stack, '`')
			case c == '$' && i+1 < len(text) && text[i+1] == '(':
				stack = append(stack, '(')
				i++
			}
		default: // bare, inside $(...) or `...`
			switch {
			case c == '\\':
				i++
				escaped = i == len(text)
			case c == '\'' || c == '"':
				stack = append(stack, c)
			case c == '`' && top() == '`':
				stack = stack[:len(stack)-1]
			case c == '`':
				stack = append(stack, '`')
			case c == '(' && top() == '(':
				stack = append(stack, '(') // a (subshell) inside $(...)
			case c == '$' && i+1 < len(text) && text[i+1] == '(':
				stack = append(stack, '(')
				i++
			case c == ')' && top() == '(':
				stack = stack[:len(stack)-1]
			}
		}
	}
	return stack, escaped
}

// stateOf maps the top of a shellScan stack to a quoteState.
func stateOf(stack []byte) quoteState {
	if len(stack) == 0 {
		return qBare
	}
	if strings.IndexByte(string(stack), '`') >= 0 {
		return qBacktick
	}
	switch stack[len(stack)-1] {
	case '\'':
		return qSingle
	case '"':
		return qDouble
	}
	return qBare
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
	pFunc              // --plus: part.fn of the argument ({+.}, {:-x}, ...)
	pTotal             // --plus {##}: the number of jobs
	pSeq0              // --plus {0#}: {#} zero-padded to the width of {##}
	pSlot0             // --plus {0%}: {%} zero-padded to the width of -j
)

// perJob reports whether k is a value of the job rather than of an
// argument ({#} {%} {##} {0#} {0%}): rendered once, never repeated per
// argument.
func (k partKind) perJob() bool {
	return k == pSeq || k == pSlot || k == pTotal || k == pSeq0 || k == pSlot0
}

var replNames = map[string]partKind{
	"": pInput, ".": pNoExt, "/": pBase, "//": pDir, "/.": pBaseNoEx, "#": pSeq, "%": pSlot,
}

// replChar reports whether c can start a replacement string after '{':
// a '{' followed by one of these must form a known replacement string,
// anything else ("{print $1}", "{ a; }") is literal text.
func replChar(c byte) bool {
	return c == '}' || c == '.' || c == '/' || c == '#' || c == '%' || c == '=' || c >= '0' && c <= '9'
}

// negativeRepl reports whether s, just after a '{', starts {-N...}: the
// N-th argument from the last.
func negativeRepl(s string) bool { return len(s) > 1 && s[0] == '-' && s[1] >= '1' && s[1] <= '9' }

// parseTemplate splits s into literal text and replacement strings. It
// fails on a '{' that ends the argument or starts an unterminated or
// unknown replacement string, naming what is wrong.
func parseTemplate(s string) (template, error) { return parseTemplateWith(s, "", false) }

// parseTemplateWith is parseTemplate with repl, if set, standing for {}
// (GNU parallel's -I): {} is then plain text; plus: with GNU parallel's
// --plus replacement strings too.
func parseTemplateWith(s, repl string, plus bool) (template, error) {
	if repl != "" && repl != "{}" {
		return parseCustom(s, repl, plus)
	}
	if plus {
		return parsePlus(s)
	}
	return parseBasic(s, true)
}

// parseBasic parses s for the replacement strings of GNU parallel
// without --plus; plusHint: an error for a --plus one says to add --plus.
func parseBasic(s string, plusHint bool) (template, error) {
	var t template
	lit := strings.Builder{}
	var stack []byte // shell quoting at the start of lit
	esc := false
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
		if !replChar(s[i+1]) && !negativeRepl(s[i+1:]) {
			lit.WriteByte('{') // "{print $1}": not a replacement string
			i++
			continue
		}
		if s[i+1] == '=' {
			return t, fmt.Errorf("%q has a perl expression {= ... =}, which poolrun does not run (GNU parallel runs perl for it): use shell code instead, e.g. 'echo $(echo {} | sed s/a/b/)'", s)
		}
		end := strings.IndexByte(s[i+1:], '}')
		if end < 0 {
			return t, fmt.Errorf("unterminated %q in %q: replacement strings are {} {.} {/} {//} {/.} {#} {%%}", s[i:], s)
		}
		name := s[i+1 : i+1+end]
		col, back := 0, false
		if negativeRepl(name) {
			name, back = name[1:], true // {-N}: counted from the last
		}
		if d := len(name) - len(strings.TrimLeft(name, "0123456789")); d > 0 {
			// {N}, {N.}, {N/}, {N//}, {N/.}: the N-th argument of the job.
			n, err := strconv.Atoi(name[:d])
			if err != nil || n < 1 || name[0] == '0' {
				if plusHint && isPlus(s[i:i+end+2]) {
					return t, fmt.Errorf("{%s} in %q is a --plus replacement string: add --plus (without it, GNU parallel reads it otherwise)", name, s)
				}
				return t, fmt.Errorf("{%s} in %q: positional replacement strings count from {1}", name, s)
			}
			col, name = n, name[d:]
		}
		k, ok := replNames[name]
		if ok && col > 0 && (k == pSeq || k == pSlot) {
			ok = false
		}
		if !ok {
			if strings.HasPrefix(name, "=") {
				return t, fmt.Errorf("{%s} in %q: perl expressions {=...=} are not supported", s[i+1:i+1+end], s)
			}
			if plusHint && isPlus(s[i:i+end+2]) {
				return t, fmt.Errorf("{%s} in %q is a --plus replacement string: add --plus (without it, GNU parallel passes it on as text)", s[i+1:i+1+end], s)
			}
			return t, fmt.Errorf("unknown replacement string {%s} in %q: use {} {.} {/} {//} {/.} {#} {%%}, or {1} {2.} ... for one argument of several", s[i+1:i+1+end], s)
		}
		if lit.Len() > 0 {
			t.parts = append(t.parts, part{kind: pLit, lit: lit.String()})
			stack, esc = shellScan(stack, lit.String())
			lit.Reset()
		}
		t.parts = append(t.parts, part{kind: k, col: col, back: back, q: stateOf(stack), esc: esc})
		esc = false
		t.repl = true
		i += end + 2
	}
	if lit.Len() > 0 || len(t.parts) == 0 {
		t.parts = append(t.parts, part{kind: pLit, lit: lit.String()})
	}
	t.splitSpans()
	return t, nil
}

// parseCustom parses s where repl stands for the input and {} is plain
// text: each piece between repls is parsed for the other replacement
// strings with "{}" kept as text.
func parseCustom(s, repl string, plus bool) (template, error) {
	var t template
	pieces := strings.Split(s, repl)
	for i, piece := range pieces {
		if i > 0 {
			t.parts = append(t.parts, part{kind: pInput})
			t.repl = true
		}
		for j, sub := range strings.Split(piece, "{}") {
			if j > 0 {
				t.parts = append(t.parts, part{kind: pLit, lit: "{}"})
			}
			if sub == "" {
				continue
			}
			pt, err := parseTemplateWith(sub, "", plus)
			if err != nil {
				return t, err
			}
			t.parts = append(t.parts, pt.parts...)
			t.repl = t.repl || pt.repl
		}
	}
	// Merge adjacent literals and redo the shell quoting states over the
	// whole word (the pieces were scanned on their own).
	var merged []part
	for _, p := range t.parts {
		if n := len(merged); n > 0 && p.kind == pLit && merged[n-1].kind == pLit {
			merged[n-1].lit += p.lit
			continue
		}
		merged = append(merged, p)
	}
	if len(merged) == 0 {
		merged = []part{{kind: pLit}}
	}
	var stack []byte
	esc := false
	for i := range merged {
		p := &merged[i]
		if p.kind == pLit {
			stack, esc = shellScan(stack, p.lit)
			continue
		}
		p.q, p.esc = stateOf(stack), esc
		esc = false
	}
	t.parts = merged
	t.splitSpans()
	return t, nil
}

// shellCheck reports an error if a replacement string cannot be quoted
// safely in shell code: one right after a backslash (\{}) would have
// its quoting escaped.
func (t *template) shellCheck(s string) error {
	for _, p := range t.parts {
		if p.esc {
			return fmt.Errorf("a backslash right before a replacement string in %q escapes its quoting: remove the backslash (poolrun quotes each replacement for sh)", s)
		}
		if p.q == qBacktick && p.kind != pLit {
			return fmt.Errorf("a replacement string inside `...` in %q cannot be quoted safely: use $(...) instead", s)
		}
	}
	return nil
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
	args  []string // the job's arguments: one per input source (several with ::: a ::: b)
	seq   int
	slot  int
	total int // --plus {##}: the number of jobs (0: not counted)
	slots int // --plus {0%}: the number of slots (-j)
	// context: the job holds several inputs (Packing.Context): a word
	// with {} is repeated for each argument.
	context bool
}

// render appends the template rendered for v to b; quote, if set, is
// applied to each replacement (shell mode), each argument of {} quoted
// on its own.
func (t *template) render(b []byte, v *jobVars, quote bool) []byte {
	if v.context && t.context && len(v.args) > 1 {
		return t.renderContext(b, v, quote)
	}
	return renderParts(b, t.parts, v, quote)
}

// renderContext renders the template with context replace (GNU
// parallel's -X): each word that holds {} is repeated for each argument,
// the copies separated by a space; the other words are rendered once.
func (t *template) renderContext(b []byte, v *jobVars, quote bool) []byte {
	for _, sp := range t.spans {
		if !sp.context {
			b = renderParts(b, sp.parts, v, quote)
			continue
		}
		for i, a := range v.args {
			if i > 0 {
				b = append(b, ' ')
			}
			one := *v
			one.args, one.context = []string{a}, false
			b = renderParts(b, sp.parts, &one, quote)
		}
	}
	return b
}

// splitSpans splits t's parts into words and blanks (space, tab,
// newline), as GNU parallel finds the word around a {} it repeats.
func (t *template) splitSpans() {
	var cur span
	blank := false
	flush := func() {
		if len(cur.parts) > 0 {
			t.spans = append(t.spans, cur)
			t.context = t.context || cur.context
		}
		cur = span{}
	}
	for _, p := range t.parts {
		if p.kind != pLit {
			if blank {
				flush()
				blank = false
			}
			cur.parts = append(cur.parts, p)
			if p.col == 0 && !p.kind.perJob() {
				cur.context = true
			}
			continue
		}
		lit := p.lit
		for lit != "" {
			isBlank := lit[0] == ' ' || lit[0] == '\t' || lit[0] == '\n'
			n := 1
			for n < len(lit) && (lit[n] == ' ' || lit[n] == '\t' || lit[n] == '\n') == isBlank {
				n++
			}
			if isBlank != blank {
				flush()
				blank = isBlank
			}
			q := p
			q.lit = lit[:n]
			cur.parts = append(cur.parts, q)
			lit = lit[n:]
		}
	}
	flush()
}

// renderParts renders parts for v.
func renderParts(b []byte, parts []part, v *jobVars, quote bool) []byte {
	for i := range parts {
		p := &parts[i]
		switch p.kind {
		case pLit:
			b = append(b, p.lit...)
			continue
		case pSeq:
			b = strconv.AppendInt(b, int64(v.seq), 10)
			continue
		case pSlot:
			b = strconv.AppendInt(b, int64(v.slot), 10)
			continue
		case pTotal:
			b = strconv.AppendInt(b, int64(v.total), 10)
			continue
		case pSeq0:
			b = appendPadded(b, v.seq, padWidth(v.total))
			continue
		case pSlot0:
			b = appendPadded(b, v.slot, padWidth(v.slots))
			continue
		}
		if p.col > 0 {
			a := ""
			switch {
			case p.back && p.col <= len(v.args):
				a = v.args[len(v.args)-p.col]
			case !p.back && p.col <= len(v.args):
				a = v.args[p.col-1]
			}
			b = appendValue(b, p.apply(a), p.q, quote)
			continue
		}
		for j, a := range v.args {
			if j > 0 {
				b = append(b, ' ')
			}
			b = appendValue(b, p.apply(a), p.q, quote)
		}
	}
	return b
}

// appendValue appends a replacement's value, quoted for where it sits
// in shell code if quote is set.
func appendValue(b []byte, r string, q quoteState, quote bool) []byte {
	if quote {
		return appendQuotedIn(b, r, q)
	}
	return append(b, r...)
}

// apply is the replacement string's value for one argument.
func (p *part) apply(a string) string {
	switch p.kind {
	case pFunc:
		return p.fn(a)
	case pNoExt:
		return noExt(a)
	case pBase:
		return base(a)
	case pDir:
		return dir(a)
	case pBaseNoEx:
		return noExt(base(a))
	}
	return a
}

// whole reports whether the template is one replacement string of all
// the arguments ({} or {.} alone): in a direct command it stands for one
// word per argument, as the shell would split it.
func (t *template) whole() bool {
	return len(t.parts) == 1 && t.parts[0].kind != pLit && !t.parts[0].kind.perJob() && t.parts[0].col == 0
}

// base is GNU parallel's {/}, s:.*/::: the input after its last '/' —
// of the first line that has one, as perl's '.' stops at a newline.
func base(s string) string {
	start := 0
	for {
		line := s[start:]
		end := strings.IndexByte(line, '\n')
		if end >= 0 {
			line = line[:end]
		}
		if i := strings.LastIndexByte(line, '/'); i >= 0 {
			return s[:start] + s[start+i+1:]
		}
		if end < 0 {
			return s
		}
		start += end + 1
	}
}

// dir is GNU parallel's {//}, perl's File::Basename::dirname: the input
// before its last '/' ("." if none, "/" for the root), trailing slashes
// ignored ("a/b/" → "a") and taken off ("a//b" → "a").
func dir(s string) string {
	d, b := fileparse(s)
	d = stripSep(d)
	if b == "" {
		d, _ = fileparse(d)
		d = stripSep(d)
	}
	return d
}

// fileparse is File::Basename's split of a path: up to its last '/'
// ("./" if none), and the rest.
func fileparse(s string) (dir, base string) {
	i := strings.LastIndexByte(s, '/')
	if i < 0 {
		return "./", s
	}
	return s[:i+1], s[i+1:]
}

// stripSep is File::Basename's s{(.)/*\z}{$1}s: trailing slashes off,
// but for the first byte.
func stripSep(d string) string {
	if t := strings.TrimRight(d, "/"); t != "" || d == "" {
		return t
	}
	return "/"
}

// noExt is GNU parallel's {.}, s:\.[^/.]*$::: the input without the
// extension of its last path element ("a/b.tar.gz" → "a/b.tar", "a.d/b"
// → "a.d/b"); as in parallel, a dot file is all extension (".bashrc" →
// "", "d/.x" → "d/").
func noExt(s string) string {
	i := strings.LastIndexByte(s, '.')
	if i < 0 || strings.IndexByte(s[i:], '/') >= 0 {
		return s
	}
	return s[:i]
}

// appendQuotedIn appends s quoted for sh where the quoting state is q:
// inside '...' or "..." the quotes are closed, s is quoted as a bare
// word, and they are reopened, so that s is always one literal piece of
// the word, whatever it holds ($(...), quotes, backslashes).
func appendQuotedIn(b []byte, s string, q quoteState) []byte {
	switch q {
	case qSingle:
		b = append(b, '\'')
		b = appendShellQuote(b, s)
		return append(b, '\'')
	case qDouble:
		b = append(b, '"')
		b = appendShellQuote(b, s)
		return append(b, '"')
	}
	return appendShellQuote(b, s)
}

// appendShellQuote appends s quoted for sh as GNU parallel quotes it
// (its Q, as --dry-run and -t show it): bare if made of letters, digits
// and - _ . + / only; ” if empty; else in single quotes, each ' written
// '"'"', without an empty ” at either end.
func appendShellQuote(b []byte, s string) []byte {
	if s == "" {
		return append(b, "''"...)
	}
	if shellSafe(s) {
		return append(b, s...)
	}
	start := len(b)
	b = append(b, '\'')
	for i := 0; i < len(s); i++ {
		if s[i] == '\'' {
			b = append(b, `'"'"'`...)
		} else {
			b = append(b, s[i])
		}
	}
	b = append(b, '\'')
	if q := b[start:]; len(q) > 2 && q[0] == '\'' && q[1] == '\'' {
		b = append(b[:start], q[2:]...)
	}
	if q := b[start:]; len(q) > 2 && q[len(q)-1] == '\'' && q[len(q)-2] == '\'' {
		b = b[:len(b)-2]
	}
	return b
}

// shellSafe reports whether s needs no quoting for sh in GNU parallel's
// eyes: letters, digits, - _ . + / only.
func shellSafe(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '-' || c == '_' || c == '.' || c == '/' || c == '+') {
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
