//go:build linux

package integration

import (
	"testing"

	"github.com/poolrun/poolrun/internal/leakcheck"
)

// {} inside "..." or '...' in a shell command is quoted for where it
// sits: the input is printed as is, never run.
func TestQuotedReplacementIsData(t *testing.T) {
	leakcheck.Check(t)
	t.Parallel()
	for _, c := range []struct{ cmd, in string }{
		{`printf '<%s>\n' "{}"`, "a$(echo RAN)b"},
		{`printf '<%s>\n' '{}'`, "x'; echo RAN; 'y"},
		{`printf '<%s>\n' {}`, "a'b"},
	} {
		r := poolrun(t, runOpts{}, c.cmd, ":::", c.in)
		if r.code != 0 || r.stdout != "<"+c.in+">\n" {
			t.Errorf("%s ::: %q: exit %d, printed %q, want %q", c.cmd, c.in, r.code, r.stdout, "<"+c.in+">\n")
		}
	}
}
