package batch

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
)

func TestRenderReplacements(t *testing.T) {
	v := &jobVars{args: []string{"dir/sub/file.tar.gz"}, seq: 7, slot: 3}
	for _, tc := range []struct{ tmpl, want string }{
		{"{}", "dir/sub/file.tar.gz"},
		{"{.}", "dir/sub/file.tar"},
		{"{/}", "file.tar.gz"},
		{"{//}", "dir/sub"},
		{"{/.}", "file.tar"},
		{"{#}", "7"},
		{"{%}", "3"},
		{"x{}y{#}z", "xdir/sub/file.tar.gzy7z"},
		{"awk '{print $1}'", "awk '{print $1}'"},
		{"{ a; }", "{ a; }"},
		{"plain", "plain"},
		{"", ""},
	} {
		tm, err := parseTemplate(tc.tmpl)
		if err != nil {
			t.Errorf("parseTemplate(%q): %v", tc.tmpl, err)
			continue
		}
		if got := string(tm.render(nil, v, false)); got != tc.want {
			t.Errorf("render(%q) = %q, want %q", tc.tmpl, got, tc.want)
		}
	}
}

func TestPathParts(t *testing.T) {
	for _, tc := range []struct{ in, noExt, base, dir string }{
		{"a", "a", "a", "."},
		{"a.txt", "a", "a.txt", "."},
		{"/a.txt", "/a", "a.txt", "/"},
		// As GNU parallel 20221122 (checked live): {.} is s:\.[^/.]*$::,
		// {/} s:.*/::, {//} perl's dirname.
		{".hidden", "", ".hidden", "."},
		{"d.x/f", "d.x/f", "f", "d.x"},
		{"d/.f", "d/", ".f", "d"},
		{"a/b/", "a/b/", "", "a"},
		{"a//b", "a//b", "b", "a"},
		{"//a", "//a", "a", "/"},
		{"/", "/", "", "/"},
		{".", "", ".", "."},
		{"..", ".", "..", "."},
		{"a/b.", "a/b", "b.", "a"},
		{"a/b\nc/d", "a/b\nc/d", "b\nc/d", "a/b\nc"},
		{"", "", "", "."},
	} {
		if got := noExt(tc.in); got != tc.noExt {
			t.Errorf("noExt(%q) = %q, want %q", tc.in, got, tc.noExt)
		}
		if got := base(tc.in); got != tc.base {
			t.Errorf("base(%q) = %q, want %q", tc.in, got, tc.base)
		}
		if got := dir(tc.in); got != tc.dir {
			t.Errorf("dir(%q) = %q, want %q", tc.in, got, tc.dir)
		}
	}
}

func TestParseTemplateRejects(t *testing.T) {
	for _, s := range []string{"{", "echo {", "{.", "{//", "{#", "{%", "{.x}", "{0}", "{01}", "{1#}", "{2%}", "{1x}", "{=uc=}", "a{/.b}"} {
		if _, err := parseTemplate(s); err == nil {
			t.Errorf("parseTemplate(%q): no error", s)
		} else if !strings.Contains(err.Error(), s) && !strings.Contains(err.Error(), "{") {
			t.Errorf("parseTemplate(%q): error %q does not show the argument", s, err)
		}
	}
}

func TestShellQuote(t *testing.T) {
	for in, want := range map[string]string{
		"abc":      "abc",
		"a b":      "'a b'",
		"":         "''",
		"it's":     `'it'"'"'s'`, // GNU parallel's Q, as its --dry-run shows
		"'":        `"'"`,
		"''":       `"'"''"'"`,
		"a'":       `'a'"'"`,
		"'a":       `"'"'a'`,
		"a,b":      "'a,b'",
		"a:b":      "'a:b'",
		"a+b":      "a+b",
		"-x":       "-x",
		"$HOME":    "'$HOME'",
		"a/b.c-d_": "a/b.c-d_",
	} {
		if got := string(appendShellQuote(nil, in)); got != want {
			t.Errorf("quote(%q) = %q, want %q", in, got, want)
		}
	}
}

// source rebuilds the text a template was parsed from.
func (t *template) source() string {
	var b strings.Builder
	names := map[partKind]string{}
	for n, k := range replNames {
		names[k] = n
	}
	for _, p := range t.parts {
		if p.kind == pLit {
			b.WriteString(p.lit)
		} else {
			col := ""
			if p.col > 0 {
				col = strconv.Itoa(p.col)
			}
			b.WriteString("{" + col + names[p.kind] + "}")
		}
	}
	return b.String()
}

// FuzzParseTemplate: parsing never panics; what parses rebuilds its
// source exactly, renders without panicking, and a template without
// replacement strings renders to itself.
func FuzzParseTemplate(f *testing.F) {
	for _, s := range []string{"{}", "a{.}b", "{/}{//}{/.}", "{#}-{%}", "awk '{print $1}'", "{", "{.", "{=x=}", "{1}", "}{", "{{}}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tm, err := parseTemplate(s)
		if err != nil {
			if err.Error() == "" {
				t.Fatalf("empty error for %q", s)
			}
			return
		}
		if got := tm.source(); got != s {
			t.Fatalf("source(%q) = %q", s, got)
		}
		v := &jobVars{args: []string{s}, seq: 1, slot: 1}
		out := tm.render(nil, v, false)
		tm.render(nil, v, true)
		if lit, ok := tm.literal(); ok && (lit != s || string(out) != s) {
			t.Fatalf("literal %q rendered %q", s, out)
		}
	})
}

// With several arguments (::: a ::: b), {} is all of them: a word of its
// own in a direct command becomes one word per argument, as the shell
// would split it (x{}y: the first and the last get the text around it);
// in shell code each is quoted on its own; {N} is one.
func TestBuildSeveralArguments(t *testing.T) {
	v := &jobVars{args: []string{"a.txt", "b c"}, seq: 1, slot: 1}
	for _, c := range []struct {
		words []string
		want  string
	}{
		{[]string{"echo", "{}"}, `["echo" "a.txt" "b c"]`},
		{[]string{"echo", "{.}"}, `["echo" "a" "b c"]`},
		{[]string{"echo", "x{}y"}, `["echo" "xa.txt" "b cy"]`}, // as sh splits x'a.txt' 'b c'y
		{[]string{"echo"}, `["echo" "a.txt" "b c"]`},
		{[]string{"echo", "{2}", "{1.}"}, `["echo" "b c" "a"]`},
		{[]string{"echo {}"}, `["sh" "-c" "echo a.txt 'b c'"]`},
		{[]string{"echo {2} {1}"}, `["sh" "-c" "echo 'b c' a.txt"]`},
		{[]string{"echo"}, `["echo" "a.txt" "b c"]`},
		{[]string{"echo ;"}, `["sh" "-c" "echo ; a.txt 'b c'"]`},
	} {
		cmd, err := parseCommand(c.words)
		if err != nil {
			t.Fatal(err)
		}
		var buf []byte
		_, argv := cmd.build(v, &buf)
		if got := fmt.Sprintf("%q", argv); got != c.want {
			t.Errorf("%q: %s, want %s", c.words, got, c.want)
		}
	}
}
