package batch

import (
	"math/rand"
	"os/exec"
	"strings"
	"testing"
)

// quoteTemplates put {} bare, inside "...", inside '...', inside $(...)
// in "...", and next to other text: for every input, sh must see exactly
// the input as printf's argument.
var quoteTemplates = []struct{ tpl, pre, post string }{
	{`printf %s {}`, "", ""},
	{`printf %s "{}"`, "", ""},
	{`printf %s '{}'`, "", ""},
	{`printf %s "<{}>"`, "<", ">"},
	{`printf %s '<{}>'`, "<", ">"},
	{`printf %s a{}b`, "a", "b"},
	{`printf %s "$(printf %s {})"`, "", ""},
	{`printf %s "$(printf %s "{}")"`, "", ""},
	{`printf %s "$(printf %s '{}')"`, "", ""},
	{`x='{}'; printf %s "$x"`, "", ""},
	{`x="{}"; printf %s "$x"`, "", ""},
	{`printf %s "a'{}'b"`, "a'", "'b"},
	{`printf %s 'a"{}"b'`, `a"`, `"b`},
}

// checkQuoted runs each template's sh -c for input and fails unless it
// prints input exactly.
func checkQuoted(t *testing.T, input string) {
	t.Helper()
	for _, q := range quoteTemplates {
		tpl := q.tpl
		c, err := parseCommand([]string{tpl})
		if err != nil {
			t.Fatalf("%s: %v", tpl, err)
		}
		var buf []byte
		path, argv := c.build(&jobVars{args: []string{input}, seq: 1, slot: 1}, &buf)
		cmd := exec.Command(path, argv[1:]...)
		out, err := cmd.Output()
		want := q.pre + input + q.post
		if strings.Contains(tpl, "$(") {
			want = strings.TrimRight(want, "\n") // $(...) drops trailing newlines
		}
		if err != nil || string(out) != want {
			t.Errorf("template %s, input %q: script %q printed %q (err %v)", tpl, input, argv[2], out, err)
		}
	}
}

// Replacement strings inside quotes are quoted for where they are: no
// input runs code or loses a character.
func TestShellQuotingState(t *testing.T) {
	for _, in := range []string{
		"", "a", "a b", "a'b", `a"b`, `a\b`, "a$(id -u)b", "x; id -u; y", "`id`", "$HOME", "'", `"`, `\`,
		`'"'"`, "a\nb", "*", "!x", "$'x'", ")", "(", "}", "{}", "-n",
	} {
		checkQuoted(t, in)
	}
	rng := rand.New(rand.NewSource(1))
	const alphabet = "ab '\"\\$`();|&*?!{}#~\n\t<>"
	for range 40 {
		var b strings.Builder
		for range rng.Intn(12) {
			b.WriteByte(alphabet[rng.Intn(len(alphabet))])
		}
		checkQuoted(t, b.String())
	}
}

// A backslash right before {} in shell code is refused (it would escape
// the quoting poolrun adds), and so is {} inside `...`.
func TestShellQuotingBackslash(t *testing.T) {
	for _, tpl := range []string{`echo \{}`, `echo "\{}"`, "echo `echo {}`", "echo \"`echo '{}'`\""} {
		if _, err := parseCommand([]string{tpl}); err == nil {
			t.Errorf("%s: no error", tpl)
		}
	}
	if _, err := parseCommand([]string{`echo "\\{}"`}); err != nil {
		t.Errorf(`echo "\\{}": %v`, err)
	}
}

// FuzzShellQuoting: for any input, sh prints exactly the input.
func FuzzShellQuoting(f *testing.F) {
	for _, s := range []string{"a'b", "a$(id -u)b", `x"; id; "y`, "`id`", `\`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if strings.IndexByte(s, 0) >= 0 {
			t.Skip("argv cannot hold NUL")
		}
		checkQuoted(t, s)
	})
}
