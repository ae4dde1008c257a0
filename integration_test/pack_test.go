//go:build linux

package integration

import (
	"testing"

	"github.com/poolrun/poolrun/internal/leakcheck"
)

// packCases are GNU parallel command lines with several inputs per job
// (-X, -m, --xargs, -L, -s, -N) and the options that shape the inputs
// (-I, --replace, -r, -E), with what GNU parallel 20221122 printed for
// them (its name in its messages changed to poolrun's), recorded; when
// parallel is installed the test compares it live too. Each runs as
// "poolrun ARGS" under bash.
var packCases = []struct {
	args           string
	stdout, stderr string
	code           int
}{
	{"-k -X echo pre{}post ::: a b c", "preapost prebpost\nprecpost\n", "", 0},
	{"-k -m echo pre{}post ::: a b c", "prea bpost\nprecpost\n", "", 0},
	{"-j1 -k -X echo {} ::: a b c d e", "a b c d e\n", "", 0},
	{"-j2 -k -X echo {} ::: a b c d e", "a b c\nd e\n", "", 0},
	{"-j2 -k -m echo {} ::: a b c d e", "a b c\nd e\n", "", 0},
	{"-j3 -k -m echo ::: 1 2 3 4 5 6 7", "1 2 3\n4 5 6\n7\n", "", 0},
	{"-j2 -k --xargs echo ::: a b c d e", "a b c d e\n", "", 0},
	{"-j1 -k -X -s 20 echo {} ::: aaa bbb ccc ddd eee fff", "aaa bbb ccc\nddd eee fff\n", "", 0},
	{"-j1 -k -m -s 20 echo ::: aaa bbb ccc ddd eee fff", "aaa bbb ccc\nddd eee fff\n", "", 0},
	{"-j1 -k --xargs -s 20 echo ::: aaa bbb ccc ddd eee fff", "aaa bbb ccc\nddd eee fff\n", "", 0},
	{"-j1 -k -X -s 21 echo {} ::: aaa bbb ccc ddd eee fff", "aaa bbb ccc ddd\neee fff\n", "", 0},
	{"-j1 -k -m -s 21 echo ::: 'a b' 'c d' 'e f' 'g h'", "a b c d\ne f g h\n", "", 0},
	{"-j1 -k -X echo {.} x{/}y ::: a.b c/d.e", "a c/d xa.by xd.ey\n", "", 0},
	{"-j1 -k -m echo {.} x{/}y ::: a.b c/d.e", "a c/d xa.b d.ey\n", "", 0},
	{"-j1 -k -X echo ::: a b c", "a b c\n", "", 0},
	{"-j1 -k -m echo ::: 'a b' c", "a b c\n", "", 0},
	{"-j1 -k -X 'echo {} | wc -w' ::: 'a b' c", "3\n", "", 0},
	{"-s 5 echo ::: aaaaaaaa", "", "poolrun: Error: Command line too long (13 >= 5) at input 0: aaaaaaaa\n", 255},
	{"-k -L 2 echo ::: 'a b' c 'd e' f", "a b c\nd e f\n", "", 0},
	{"-k -j1 -L 2 echo ::: a b c d e", "a b\nc d\ne\n", "", 0},
	{"-k -j1 -L 2 -X echo x{} ::: a b c d e", "xa xb\nxc xd\nxe\n", "", 0},
	{"-k -L 2 echo [{}] ::: a b c d e", "[a] [b]\n[c] [d]\n[e]\n", "", 0},
	{"-k -L 2 echo {2} ::: a b c d e", "b\nd\n\n", "", 0},
	{"-k -I XX echo XX {} ::: a b", "a {}\nb {}\n", "", 0},
	{"-k -I {} echo {} ::: a b", "a\nb\n", "", 0},
	{"-k --replace=XX echo XX ::: a b", "a\nb\n", "", 0},
	{"-k -I XX echo XX. ::: a.b", "a.b.\n", "", 0},
	{"-k -N 2 echo [{}] ::: a b c", "[a] [b]\n[c]\n", "", 0},
	{"-k -r echo X ::: '' ' ' a", "X a\n", "", 0},
	{"-k -j4 -m echo ::: 1 2 3 4 5 6", "1 2\n3 4\n5 6\n", "", 0},
	{"-k -j4 -m echo ::: 1 2 3 4 5", "1 2\n3 4\n5\n", "", 0},
	{"-k -j4 -m echo ::: 1 2 3 4 5 6 7 8 9", "1 2 3\n4 5 6\n7 8 9\n", "", 0},
	{"-k -j4 -m echo ::: 1 2 3 4 5 6 7 8 9 10", "1 2 3\n4 5 6\n7 8 9\n10\n", "", 0},
	{"-k -j1 -m -n 2 echo ::: 1 2 3 4 5", "1 2\n3 4\n5\n", "", 0},
	{"-k -j1 -m echo ::: a b ::: 1 2", "a 1 a 2 b 1 b 2\n", "", 0},
	{"-k -E b echo ::: a b c", "a\n", "", 0},
	{"-k echo [{}] ::: a ::: b", "[a b]\n", "", 0},
	{"-k -N2 echo [{}] ::: a c ::: b", "[a] [b] [c] [b]\n", "", 0},
	{"-k -N2 'echo [{}] | tr a-z A-Z' ::: a b c", "[A] [B]\n[C]\n", "", 0},
	{"-k -N2 echo x{.}y ::: a.1 b.2 c", "xay xby\nxcy\n", "", 0},
	{"-k -m -N2 echo x{}y ::: a b c", "xay xby\nxcy\n", "", 0},
	{"-k -n2 echo x{}y ::: a b c", "xa by\nxcy\n", "", 0},
	{"-k -j1 -X echo {} {#} p{}q ::: a b", "a b 1 paq pbq\n", "", 0},
	{"-k -m -j1 -s 30 echo x{}y ::: aaaa bbbb cccc dddd eeee", "xaaaa bbbb cccc ddddy\nxeeeey\n", "", 0},
	{"-k -X -j1 -s 30 echo x{}y ::: aaaa bbbb cccc dddd eeee", "xaaaay xbbbby xccccy\nxddddy xeeeey\n", "", 0},
	{"-k -j1 -s 14 echo ::: aaaa bbbb cccc", "aaaa\nbbbb\ncccc\n", "", 0},
	{"-k -j1 -s 12 -N3 echo ::: aaaa bbbb cccc", "aaaa\nbbbb\ncccc\n", "", 0},
	{"-k --tag -j1 -X echo ::: a b", "a b\ta b\n", "", 0},
	{"-k -j1 --xargs echo x{}y ::: a b", "xa by\n", "", 0},
	{"-k -j2 --xargs echo ::: a b c", "a b c\n", "", 0},
	{"-k -L2 -m echo x{}y ::: a b c", "xa by\nxcy\n", "", 0},
	{"-k -j1 -X -N1 echo x{}y ::: a b", "xay\nxby\n", "", 0},
	{"-k -r -n2 echo ::: a '' b", "a b\n", "", 0},
	{"-k -E c -n2 echo ::: a b c d", "a b\n", "", 0},
	{"-k -I XX -N2 echo [XX] ::: a b c", "[a] [b]\n[c]\n", "", 0},
	{"-k -j1 -m -s 15 --dry-run echo ::: 'a b' c d e", "echo 'a b' c d\necho e\n", "", 0},
	{"-k -iXX echo XX ::: a", "a\n", "", 0},
	{"-k -j1 -m echo ::: ", "", "", 0},
	{"-k -r -j1 -m echo ::: '' ' '", "", "", 0},
	{"-k -L 2 echo < <(printf 'a b\\nc\\nd e\\nf\\n')", "a b c\nd e f\n", "", 0},
	{"-k -j1 -L 2 echo < <(printf 'a\\nb\\nc\\nd\\ne\\n')", "a b\nc d\ne\n", "", 0},
	{"-k -L 2 -q printf '<%s>' < <(printf 'a b\\nc\\n')", "<a b><c>", "", 0},
	{"-k -r echo X < <(printf '\\n \\n\\n')", "", "", 0},
	{"-k echo X < <(printf '\\n \\n\\n')", "X \nX  \nX \n", "", 0},
	{"echo X </dev/null", "", "", 0},
	{"-r echo X </dev/null", "", "", 0},
	{"-k -E END echo < <(printf 'a\\nb\\nEND\\nc\\n')", "a\nb\n", "", 0},
	{"-k -E END echo < <(printf 'a END b\\nc\\n')", "a END b\nc\n", "", 0},
	{"-k -j2 -m echo < <(printf '1\\n2\\n3\\n4\\n5\\n')", "1 2 3\n4 5\n", "", 0},
	{"-k -j2 -X echo < <(printf '1\\n2\\n3\\n4\\n5\\n')", "1 2 3\n4 5\n", "", 0},
	{"-k -j2 --xargs echo < <(printf '1\\n2\\n3\\n4\\n5\\n')", "1 2 3 4 5\n", "", 0},
	{"-k -j1 -m echo < <(seq 12000) | md5sum", "6f957f805cbacbd88cb1b595f3e5f3e2  -\n", "", 0},
	{"-k -j2 -m echo < <(seq 12000) | md5sum", "c623025c700d0c47328d0c18ba69963a  -\n", "", 0},
	{"-k -j1 -X echo x{}y < <(seq 10000) | md5sum", "1a6b5294940fcf7a1d8b1ba4f5be72fb  -\n", "", 0},
	{"-k -j1 --xargs -s 1000 echo < <(seq 5000) | md5sum", "5a407766ccf89f4fbe94365f6fd68eb6  -\n", "", 0},
	{"-k -j3 -m -s 100 echo < <(seq 100) | md5sum", "89a7c05f7e82824abd27a83f7a0c91dd  -\n", "", 0},
	{"-s 1 echo ::: a", "", "poolrun: Error: Command line too long (6 >= 1) at input 0: a\n", 255},
	{"-s 0 echo ::: a", "a\n", "", 0},
	{"-s x echo ::: a", "a\n", "", 0},
	{"-k -m -0 echo < <(printf 'a b\\0c\\0')", "a b\nc\n", "", 0},
	{"-k -j1 -m -s 12 echo ::: aaaaaaaaaaaaa b", "", "poolrun: Error: Command line too long (18 >= 12) at input 0: aaaaaaaaaaaaa\n", 255},
	{"-k -j1 -X -s 20 echo ::: aaa bbb ccc", "aaa bbb ccc\n", "", 0},
	{"-k -L 1 echo < <(printf 'a b\\nc\\n')", "a b\nc\n", "", 0},
	{"-k -L 3 echo x{}y < <(printf 'a\\nb\\nc\\nd\\n')", "xay xby xcy\nxdy\n", "", 0},
	{"-k -j2 -L 2 echo < <(seq 9)", "1 2\n3 4\n5 6\n7 8\n9\n", "", 0},
	{"-j1 -L 2 echo < <(seq 5)", "1 2\n3 4\n5\n", "", 0},
	{"-k --tag -L 2 echo < <(seq 5)", "1 2\t1 2\n3 4\t3 4\n5\t5\n", "", 0},
	{"-k -I XX 'echo XX | tr a-z A-Z' ::: ab", "AB\n", "", 0},
	{"-k -I {} sh -c 'echo {}' ::: a", "\n", "", 0},
	{"-k -X -j3 echo < <(seq 10)", "1 2 3 4\n5 6 7 8\n9 10\n", "", 0},
	{"-k -m -j3 echo < <(seq 10)", "1 2 3 4\n5 6 7 8\n9 10\n", "", 0},
	{"-k -E stop -a <(printf 'a\\nstop\\nb\\n') echo", "a\n", "", 0},
	{"-k -r -a <(printf 'a\\n\\n  \\nb\\n') echo X", "X a\nX b\n", "", 0},
	{"-k -X -j1 echo {1} ::: a b c", "a\n", "", 0},
	{"-k -N3 echo {2} ::: a b c d", "b\n\n", "", 0},
	{"-k -m -j2 --tag echo ::: a b c", "a b\ta b\nc\tc\n", "", 0},
	{"-k -m -j1 'echo {} >/dev/null; echo done' ::: a b", "done\n", "", 0},
	{"-k -j2 -X echo {#} x{}y ::: a b c d", "1 xay xby\n2 xcy xdy\n", "", 0},
	{"-k -n 2 -s 20 echo ::: aaaa bbbb cccc dddd", "aaaa bbbb\ncccc dddd\n", "", 0},
	{"-k -X -s 14 echo ::: a b c d e f", "a b c d\ne\nf\n", "", 0},
	{"-k --xargs -j3 echo ::: 1 2 3 4 5 6 7", "1 2 3 4 5 6 7\n", "", 0},
	{"-s 99999999 echo ::: a", "a\n", "poolrun: Warning: Value for option -s should be < 63664.\n", 0},
	{"-s 63664 echo ::: a", "a\n", "", 0},
	{"-k -j1 -s 100000 -X echo ::: a b", "a b\n", "poolrun: Warning: Value for option -s should be < 63664.\n", 0},
	{"-k -j1 -X --dry-run echo x{}y ::: 'a b' c", "echo x'a b'y xcy\n", "", 0},
	{"-k -t echo x{}y ::: 'a b'", "xa by\n", "echo x'a b'y\n", 0},
}

func TestParallelArgumentsPerJob(t *testing.T) {
	leakcheck.Check(t)
	t.Parallel()
	dir := t.TempDir()
	gnu := peer("parallel")
	for i, c := range packCases {
		if !sampled(i) {
			continue
		}
		r := runSh(t, dir, "", bin+" "+c.args)
		if r.stdout != c.stdout || r.stderr != c.stderr || r.code != c.code {
			t.Errorf("poolrun %s:\nstdout %q stderr %q exit %d\nwant (GNU parallel's)\nstdout %q stderr %q exit %d", c.args, r.stdout, r.stderr, r.code, c.stdout, c.stderr, c.code)
		}
		if gnu == "" {
			continue
		}
		g := runSh(t, dir, "", gnu+" --will-cite "+c.args)
		if g.stdout != c.stdout || g.code != c.code {
			t.Errorf("GNU parallel %s now prints %q, exit %d; recorded %q, exit %d", c.args, g.stdout, g.code, c.stdout, c.code)
		}
	}
}
