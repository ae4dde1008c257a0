package batch

import (
	"strings"
	"testing"
)

// The --plus replacement strings render what GNU parallel 20221122
// prints for them (checked live: parallel --plus echo ... ::: ...).
func TestRenderPlus(t *testing.T) {
	for _, c := range []struct {
		tmpl string
		args []string
		want string
	}{
		{"{+/} {+.} {+..} {+...} {..} {...} {/..} {/...}", []string{"dir.x/sub/a.b.c.d"}, "dir.x/sub d c.d b.c.d dir.x/sub/a.b dir.x/sub/a a.b a"},
		{"[{+/}][{+.}][{+..}][{+...}][{..}][{...}][{/..}][{/...}]", []string{"a"}, "[][][][][a][a][a][a]"},
		{"{+.}", []string{"dir.x/sub/a"}, "x/sub/a"}, // parallel's s:.*\.::
		{"{2+/} {-1+.} {1/..} {2...}", []string{"d/a.b.c", "e/f.g.h.i"}, "e i a e/f"},
		{"{:-x}|{:2}|{1:1:2}|{:10}|{:3:10}|{:10:2}", []string{"abcd"}, "abcd|cd|bc||d|"},
		{"{:-x}|{:2}", []string{"0"}, "x|"}, // perl's ||=: "0" is false
		{"{:-x}", []string{""}, "x"},
		{"{#a*b} {##a*b} {%b*c} {%%b*c}", []string{"aabbcc"}, "bcc bcc aabbc aabbc"},
		{"{#a*b} {##a*b} {%b*c} {%%b*c}", []string{"abab"}, "ab ab abab abab"},
		{"{/b/X} {//b/X} {/#a/X} {/%c/X}", []string{"aabbcc"}, "aaXbcc aaXXcc Xabbcc aabbcX"},
		{"{^a} {^^b} {,A} {,,B}", []string{"abAB"}, "AbAB aBAB abAB abAb"},
		{"{^^é}", []string{"é"}, "é"}, // perl's uc on bytes: ASCII only
		{"{2:-def} {-1#a} {1^^[a-c]}", []string{"abc", ""}, "def  ABC"},
		{"{#(a)b}", []string{"abc"}, "a"},             // $1 is the user's own group, as in parallel
		{"{%.gz}", []string{"a.tar.gz\n"}, "a.tar\n"}, // perl's $ before a final newline
		{"{.} {/.}", []string{"x/a.b"}, "x/a a"},
		{"{##} {0#} {0%} {#} {%}", []string{"a"}, "11 03 2 3 2"},
	} {
		tm, err := parseTemplateWith(c.tmpl, "", true)
		if err != nil {
			t.Errorf("%q: %v", c.tmpl, err)
			continue
		}
		v := &jobVars{args: c.args, seq: 3, slot: 2, total: 11, slots: 4}
		if got := string(tm.render(nil, v, false)); got != c.want {
			t.Errorf("%q over %q: %q, want %q", c.tmpl, c.args, got, c.want)
		}
	}
}

// parallel's widths for {0#} and {0%}: 1+int(log(n)/log(10)) in floating
// point, so 1000 jobs get 3 digits and 10 000 000 get 8 (perl prints the
// same).
func TestPadWidth(t *testing.T) {
	for n, w := range map[int]int{0: 1, 1: 1, 9: 1, 10: 2, 99: 2, 100: 3, 999: 3, 1000: 3, 9999: 4, 10000: 5, 1000000: 6, 10000000: 8} {
		if got := padWidth(n); got != w {
			t.Errorf("padWidth(%d) = %d, want %d", n, got, w)
		}
	}
	if got := string(appendPadded(nil, 7, 3)); got != "007" {
		t.Errorf("appendPadded(7, 3) = %q", got)
	}
}

// Shell quoting applies to --plus values as to {}: the value is one
// literal piece of the word wherever it sits.
func TestRenderPlusQuoted(t *testing.T) {
	tm, err := parseTemplateWith(`echo {+.} "{/ /_}" '{^^a}'`, "", true)
	if err != nil {
		t.Fatal(err)
	}
	v := &jobVars{args: []string{"x.a b$(id)"}, seq: 1, slot: 1}
	want := `echo 'a b$(id)' ""'x.a_b$(id)'"" '''x.A b$(id)'''`
	if got := string(tm.render(nil, v, true)); got != want {
		t.Errorf("quoted: %s, want %s", got, want)
	}
}

func TestParsePlusRejects(t *testing.T) {
	for s, why := range map[string]string{
		"{slot}":     "{%}",
		"{uniq}":     "skips jobs",
		"{choose_k}": "skips jobs",
		"{host}":     "remote",
		"{2#}":       "positional",
		"{1##}":      "positional",
		"{2%}":       "positional",
		"{0+.}":      "count from {1}",
		"{01}":       "count from {1}",
		"{#(?=a)}":   "RE2",
		"{/(a/b}":    "RE2",
		"{.x}":       "unknown",
		"{=uc=}":     "perl",
		"echo {":     "unterminated",
	} {
		_, err := parseTemplateWith(s, "", true)
		if err == nil || !strings.Contains(err.Error(), why) {
			t.Errorf("parse --plus %q: %v, want an error saying %q", s, err, why)
		}
	}
	// Without --plus, they are refused with a line that names --plus.
	// ({+.} and {:-x} are text without --plus, as in parallel: a '{'
	// before '+' or ':' never starts a replacement string.)
	for _, s := range []string{"{##}", "{+.}x{0#}", "{..}", "{#a}", "{/..}"} {
		_, err := parseTemplate(s)
		if err == nil || !strings.Contains(err.Error(), "--plus") {
			t.Errorf("parse %q: %v, want a hint at --plus", s, err)
		}
	}
}

// Longest keys first, as parallel: {##} is the total, not {#} and "#".
func TestParsePlusOrder(t *testing.T) {
	for s, kinds := range map[string][]partKind{
		"{##}":      {pTotal},
		"{##a}":     {pFunc},
		"{0#}{#}":   {pSeq0, pSeq},
		"{//}{/}":   {pDir, pBase},
		"{//a/b}":   {pFunc},
		"{/..}":     {pFunc},
		"a{}b{2}c":  {pLit, pInput, pLit, pInput, pLit},
		"{ a; }{}":  {pLit, pInput},
		"{:-{}":     {pFunc}, // {:-([^}]+?)} comes before {}
		"{%}{%%x}":  {pSlot, pFunc},
		"{-1/...}":  {pFunc},
		"{2 +.}":    {pFunc}, // parallel allows blanks after the position
		"awk '{x}'": {pLit},
	} {
		tm, err := parseTemplateWith(s, "", true)
		if err != nil {
			t.Errorf("%q: %v", s, err)
			continue
		}
		var got []partKind
		for _, p := range tm.parts {
			got = append(got, p.kind)
		}
		if len(got) != len(kinds) {
			t.Errorf("%q: kinds %v, want %v", s, got, kinds)
			continue
		}
		for i := range got {
			if got[i] != kinds[i] {
				t.Errorf("%q: kinds %v, want %v", s, got, kinds)
				break
			}
		}
	}
}

// FuzzParsePlus: parsing with --plus never panics; what parses rebuilds
// its source from its parts and renders, quoted or not, without
// panicking.
func FuzzParsePlus(f *testing.F) {
	for _, s := range []string{"{+/}{+.}{+..}{+...}", "{..}{...}{/..}{/...}", "{##}-{0#}-{0%}", "{:-x}{:2}{:1:2}", "{#a*}{##a*}{%b}{%%b}", "{/a/b}{//a/b}{/#a/b}{/%a/b}", "{^a}{^^a}{,A}{,,A}", "{2+.}{-1:-x}", "{slot}", "{#(?=a)}", "{", "{=x=}", "awk '{print $1}'", "{:-{}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tm, err := parseTemplateWith(s, "", true)
		if err != nil {
			if err.Error() == "" {
				t.Fatalf("empty error for %q", s)
			}
			return
		}
		var b strings.Builder
		for _, p := range tm.parts {
			if p.kind == pLit {
				b.WriteString(p.lit)
			} else {
				b.WriteString(p.src)
			}
		}
		if b.String() != s {
			t.Fatalf("parts of %q rebuild %q", s, b.String())
		}
		v := &jobVars{args: []string{s, "a.b/c.d"}, seq: 1, slot: 1, total: 2, slots: 1}
		tm.render(nil, v, false)
		tm.render(nil, v, true)
	})
}
