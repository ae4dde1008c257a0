package main

import (
	"os/exec"
	"reflect"
	"strings"
	"testing"
)

func TestShellWords(t *testing.T) {
	for in, want := range map[string][]string{
		"-k -j1":              {"-k", "-j1"},
		"  -kvj1  ":           {"-kvj1"},
		`--tagstring 'a b'`:   {"--tagstring", "a b"},
		`--tagstring "a \"b"`: {"--tagstring", `a "b`},
		`a\ b c`:              {"a b", "c"},
		`''`:                  {""},
		`x"y"'z'`:             {"xyz"},
	} {
		if got, err := shellWords(in); err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("shellWords(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{`'a`, `"a`, `a "b`} {
		if _, err := shellWords(in); err == nil {
			t.Errorf("shellWords(%q): no error", in)
		}
	}
}

// FuzzShellWords checks the splitter against sh itself: the words sh
// makes of a line with no expansions are the words shellWords makes.
func FuzzShellWords(f *testing.F) {
	for _, s := range []string{"-k -j1", `a\ b 'c d' "e \" f"`, `x"y"'z'`, `\\`, "a\tb\nc"} {
		f.Add(s)
	}
	sh, err := exec.LookPath("sh")
	if err != nil {
		f.Skip("no sh")
	}
	f.Fuzz(func(t *testing.T, s string) {
		if strings.ContainsAny(s, "$`;&|<>()*?[]#~!{}=%\x00\r") || strings.Contains(s, "\\\n") {
			return // expansions and operators: not what $PARALLEL holds
		}
		got, err := shellWords(s)
		out, shErr := exec.Command(sh, "-c", `for w in `+s+`; do printf '%s\0' "$w"; done`).Output()
		if shErr != nil {
			if err == nil && len(got) > 0 {
				t.Skipf("sh refused %q", s)
			}
			return
		}
		if err != nil {
			t.Fatalf("shellWords(%q): %v; sh splits it into %q", s, err, out)
		}
		want := strings.Split(string(out), "\x00")
		want = want[:len(want)-1]
		if len(want) == 0 {
			want = nil
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("shellWords(%q) = %q; sh: %q", s, got, want)
		}
	})
}
