//go:build linux

package integration

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/poolrun/poolrun/internal/leakcheck"
)

// xargsCases are shell command lines that call xargs, with what GNU
// findutils 4.9.0's xargs printed for them (stdout, stderr, exit status),
// recorded under LANG=C.UTF-8 in a directory holding an empty file
// noexec (not executable), s ("STDIN"), f ("hi") and noshebang (a shell
// script without #!, executable). The test runs them
// with poolrun called as xargs first in PATH, and, when GNU xargs is
// installed, compares it live too.
var xargsCases = []struct {
	sh             string
	stdout, stderr string
	code           int
}{
	{"xargs </dev/null", "\n", "", 0},
	{"printf 'a b\\nc \"d e\" '\"'\"'f g'\"'\"' h\\\\ i\\n' | xargs", "a b c d e f g h i\n", "", 0},
	{"echo \"a 'b\" | xargs", "a\n", "xargs: unmatched single quote; by default quotes are special to xargs unless you use the -0 option\n", 1},
	{"echo 'a \"b' | xargs", "a\n", "xargs: unmatched double quote; by default quotes are special to xargs unless you use the -0 option\n", 1},
	{"printf '1\\n2\\n3\\n' | xargs -n1 sh -c 'echo $0; [ $0 = 2 ] && exit 255; exit 0'", "1\n2\n", "xargs: sh: exited with status 255; aborting\n", 124},
	{"printf '1\\n2\\n3\\n' | xargs -n1 sh -c 'echo $0; exit 1'", "1\n2\n3\n", "", 123},
	{"printf '1\\n2\\n3\\n' | xargs -n1 sh -c 'echo $0; kill -9 $$'", "1\n", "xargs: sh: terminated by signal 9\n", 125},
	{"printf '1\\n2\\n' | xargs -n1 nosuchcmd", "", "xargs: nosuchcmd: No such file or directory\n", 127},
	{"printf '1\\n2\\n' | xargs -n1 ./noexec", "", "xargs: ./noexec: Permission denied\n", 126},
	{"printf '1\\n2\\n' | xargs -n1 sh -c 'exit 127'", "", "", 123},
	{"printf '1\\n2\\n' | xargs -n1 /tmp", "", "xargs: /tmp: Permission denied\n", 126},
	{"printf \"a b\\n'c d'\\n\" | xargs -t echo", "a b c d\n", "echo a b 'c d'\n", 0},
	{"xargs --foo </dev/null", "", "xargs: unrecognized option '--foo'\nTry 'xargs --help' for more information.\n", 1},
	{"xargs -n 0 </dev/null", "", "xargs: value 0 for -n option should be >= 1\nTry 'xargs --help' for more information.\n", 1},
	{"xargs -n x </dev/null", "", "xargs: invalid number \"x\" for -n option\nTry 'xargs --help' for more information.\n", 1},
	{"echo a b c d e f g h | xargs -s 12 echo", "a b c\nd e f\ng h\n", "", 0},
	{"echo abcdefgh | xargs -s 8 echo", "", "xargs: argument line too long\n", 1},
	{"echo a | xargs -s 1 echo", "", "xargs: cannot fit single argument within argument list size limit\n", 1},
	{"echo a b c d e | xargs -x -s 10 -n 3 echo", "", "xargs: argument list too long\n", 1},
	{"echo a b c d e | xargs -x -s 10 echo", "a b\nc d\ne\n", "", 0},
	{"printf 'a b\\nc\\n\\nd e \\nf\\n' | xargs -L 2 echo", "a b c\nd e f\n", "", 0},
	{"printf 'a b \\nc\\nd\\n' | xargs -L 1 echo", "a b c\nd\n", "", 0},
	{"printf 'a b\\n_ c\\nd\\n' | xargs -E _ echo", "a b\n", "", 0},
	{"printf 'a _ b\\nd\\n' | xargs -E _ echo", "a\n", "", 0},
	{"printf 'a\\0_\\0b\\0' | xargs -0 -E _ echo", "a _ b\n", "xargs: warning: the -E option has no effect if -0 or -d is used.\n\n", 0},
	{"printf '  a b  \\nc\\n\\n' | xargs -I{} echo [{}] x{}y{}", "[a b  ] xa b  ya b  \n[c] xcyc\n", "", 0},
	{"printf 'a\\nb\\n' | xargs -I XX echo XX {}", "a {}\nb {}\n", "", 0},
	{"printf 'a\\nb\\n' | xargs -i echo {}", "a\nb\n", "", 0},
	{"printf 'a\\nb\\n' | xargs -iXX echo XX", "a\nb\n", "", 0},
	{"xargs -I{} echo {} </dev/null", "", "", 0},
	{"printf 'a\\nb\\nc\\n' | xargs -l echo", "a\nb\nc\n", "", 0},
	{"printf 'a\\nb\\nc\\n' | xargs -eb echo", "a\n", "", 0},
	{"printf 'a b\\nc,d' | xargs -d, echo", "a b\nc d\n", "", 0},
	{"printf 'a b\\n\\nc\\n' | xargs -d '\\n' -n1 echo", "a b\n\nc\n", "", 0},
	{"echo STDIN > s; echo hi > f; xargs -a f sh -c 'cat; echo \"$@\"' x < s", "STDIN\nhi\n", "", 0},
	{"echo a | xargs sh -c 'cat; echo \"$@\"' x < s", "STDIN\n", "", 0},
	{"printf '1\\n2\\n3\\n' | xargs -n1 --process-slot-var=SLOT sh -c 'echo $SLOT'", "0\n0\n0\n", "", 0},
	{"xargs --process-slot-var=A=B </dev/null", "", "xargs: option --process-slot-var may not be set to a value which includes `='\n", 1},
	{"seq 3 | xargs -P -1 -n1 echo", "", "xargs: value -1 for -P option should be >= 0\nTry 'xargs --help' for more information.\n", 1},
	{"seq 3 | xargs -P x -n1 echo", "", "xargs: invalid number \"x\" for -P option\nTry 'xargs --help' for more information.\n", 1},
	{"seq 3 | xargs -n 99999999999999999999 echo", "1 2 3\n", "", 0},
	{"seq 3 | xargs -L 0 echo", "", "xargs: value 0 for -L option should be >= 1\nTry 'xargs --help' for more information.\n", 1},
	{"printf 'a\\0b\\n' | xargs echo", "a\n", "xargs: WARNING: a NUL character occurred in the input.  It cannot be passed through in the argument list.  Did you mean to use the --null option?\n", 0},
	{"seq 3 | xargs -d ab echo", "", "xargs: Invalid input delimiter specification ab: the delimiter must be either a single character or an escape sequence starting with \\.\n", 1},
	{"printf 'aXb' | xargs -d '\\x58' echo", "a b\n", "", 0},
	{"printf 'aXb' | xargs -d '\\130' echo", "a b\n", "", 0},
	{"printf 'aXb' | xargs -d '\\q' echo", "", "xargs: Invalid escape sequence \\q in input delimiter specification.\n", 1},
	{"printf 'aXb' | xargs -d '\\777' echo", "", "xargs: Invalid escape sequence \\777 in input delimiter specification; character values must not exceed 377.\n", 1},
	{"printf 'aXb' | xargs -d '\\x1ff' echo", "", "xargs: Invalid escape sequence \\x1ff in input delimiter specification; character values must not exceed ff.\n", 1},
	{"printf 'aXb' | xargs -d '\\12z' echo", "", "xargs: Invalid escape sequence \\12z in input delimiter specification; trailing characters z not recognised.\n", 1},
	{"xargs -n", "", "xargs: option requires an argument -- 'n'\nTry 'xargs --help' for more information.\n", 1},
	{"xargs -a /nonexist echo", "", "xargs: Cannot open input file ‘/nonexist’: No such file or directory\n", 1},
	{"printf '%s\\0' 'a b' \"it's\" '$x' 'plain' '' | xargs -0 -t true", "", "true 'a b' \"it's\" '$x' plain ''\n", 0},
	{"printf 'a b\\n' | xargs -t -I{} echo {}", "a b\n", "echo 'a b'\n", 0},
	{"printf 'a\\n' | xargs -t 'my prog'", "", "'my prog' a\nxargs: my prog: No such file or directory\n", 127},
	{"printf '1\\n2\\n3\\n4\\n' | xargs -P2 -n1 sh -c '[ $0 = 1 ] && exit 255; exit 0'", "", "xargs: sh: exited with status 255; aborting\n", 124},
	{"printf 'a b c\\nd \"e\\n' | xargs -n1 echo", "a\nb\nc\nd\n", "xargs: unmatched double quote; by default quotes are special to xargs unless you use the -0 option\n", 1},
	{"printf 'a b c\\nd \"e\\n' | xargs -x echo", "", "xargs: unmatched double quote; by default quotes are special to xargs unless you use the -0 option\n", 1},
	{"printf 'a\\n\"b\\n' | xargs -I{} echo {}", "a\n", "xargs: unmatched double quote; by default quotes are special to xargs unless you use the -0 option\n", 1},
	{"printf \"'' \\\"\\\" a\\n''\\n\" | xargs -n1 echo X", "X \nX \nX a\nX \n", "", 0},
	{"printf 'a\\\\\\nb\\n' | xargs -n1 echo X", "X a\nb\n", "", 0},
	{"printf 'a\\rb c\\r\\n' | xargs -n1 echo X", "X a\x0db\nX c\x0d\n", "", 0},
	{"printf '%s\\0' \"a'b\\$c\" 'a*b' '~x' 'x~' '#x' 'x#' 'a=b' $'a\\nb' $'a\\tb' 'é' 'a\"b' 'a\\b' '!x' 'a,b' 'a:b' '@x' '%x' '+x' '^x' '{x}' '[x]' 'a|b' 'a;b' 'a&b' '(x)' '<x>' '?x' 'x?' '-x' '{' '}' \"it's x#\" \"a'\"$'\\x01' $'\\x01'\"'b\" | xargs -0 -t true", "", "true 'a'\\''b$c' 'a*b' '~x' x~ '#x' x# 'a=b' 'a'$'\\n''b' 'a'$'\\t''b' é 'a\"b' 'a\\b' '!x' a,b a:b @x %x +x '^x' {x} '[x]' 'a|b' 'a;b' 'a&b' '(x)' '<x>' '?x' 'x?' -x '{' '}' 'it'\\''s x#' '''a'\\'''$'\\001' ''$'\\001'\\''b'\n", 0},
	{"printf '%s\\0' $'\\x01' $'a\\x7f' \"'\" \"''\" | xargs -0 -t true", "", "true ''$'\\001' 'a'$'\\177' \"'\" \"''\"\n", 0},
	{"printf '%s\\0' 'é' \"a'b\" | LC_ALL=C xargs -0 -t true", "", "true ''$'\\303\\251' \"a'b\"\n", 0},
	{"echo a | xargs -s 0 echo", "", "xargs: value 0 for -s option should be >= 1\nxargs: cannot fit single argument within argument list size limit\n", 1},
	{"echo a | xargs -s abc echo", "", "xargs: invalid number \"abc\" for -s option\nTry 'xargs --help' for more information.\n", 1},
	{"echo a | xargs -n -1 echo", "", "xargs: value -1 for -n option should be >= 1\nTry 'xargs --help' for more information.\n", 1},
	{"echo a b c | xargs -n ' 2' echo", "a b\nc\n", "", 0},
	{"echo a b c | xargs -n +2 echo", "a b\nc\n", "", 0},
	{"echo a b c | xargs -n 0x2 echo", "", "xargs: invalid number \"0x2\" for -n option\nTry 'xargs --help' for more information.\n", 1},
	{"seq 20 | xargs -n 010 echo", "1 2 3 4 5 6 7 8 9 10\n11 12 13 14 15 16 17 18 19 20\n", "", 0},
	{"printf 'a b\\nc d\\n' | xargs -L 1 -n 3 echo", "a b c\nd\n", "xargs: warning: options --max-lines and --max-args/-n are mutually exclusive, ignoring previous --max-lines value\n", 0},
	{"printf 'a b\\nc d\\n' | xargs -n 3 -L 1 echo", "a b\nc d\n", "xargs: warning: options --max-args and -L are mutually exclusive, ignoring previous --max-args value\n", 0},
	{"printf 'a b\\nc d\\n' | xargs -I{} -n 1 echo {}", "a b\nc d\n", "", 0},
	{"printf 'a b\\nc d\\n' | xargs -I{} -n 2 echo {}", "{} a b\n{} c d\n", "xargs: warning: options --replace and --max-args/-n are mutually exclusive, ignoring previous --replace value\n", 0},
	{"printf 'a b\\nc d\\n' | xargs -I{} -L 1 echo {}", "{} a b\n{} c d\n", "xargs: warning: options --replace and -L are mutually exclusive, ignoring previous --replace value\n", 0},
	{"printf 'a b\\nc d\\n' | xargs -L 1 -I{} echo {}", "a b\nc d\n", "xargs: warning: options --max-lines and --replace/-I/-i are mutually exclusive, ignoring previous --max-lines value\n", 0},
	{"printf '\\n\\n' | xargs -r -I{} echo {}", "", "", 0},
	{"printf '  \\n\\n' | xargs echo X", "X\n", "", 0},
	{"printf '  \\n\\n' | xargs -r echo X", "", "", 0},
	{"printf '\\0\\0' | xargs -0 -n1 echo X", "X \nX \n", "", 0},
	{"printf '' | xargs -0 -r echo X", "", "", 0},
	{"printf 'echo\\n' | xargs -I{} {} hi", "", "xargs: {}: No such file or directory\n", 127},
	{"printf '   a  b\\n' | xargs -I{} echo \"[{}]\"", "[a  b]\n", "", 0},
	{"printf '\"a b\" c\\\\ d\\n' | xargs -I{} echo \"[{}]\"", "[a b c d]\n", "", 0},
	{"echo a | xargs -- -n echo", "", "xargs: -n: No such file or directory\n", 127},
	{"echo a | xargs echo -n x", "x a", "", 0},
	{"xargs --max </dev/null", "", "xargs: option '--max' is ambiguous; possibilities: '--max-lines' '--max-args' '--max-chars' '--max-procs'\nTry 'xargs --help' for more information.\n", 1},
	{"xargs --null=3 </dev/null", "", "xargs: option '--null' doesn't allow an argument\nTry 'xargs --help' for more information.\n", 1},
	{"xargs --max-args </dev/null", "", "xargs: option '--max-args' requires an argument\nTry 'xargs --help' for more information.\n", 1},
	{"xargs -z </dev/null", "", "xargs: invalid option -- 'z'\nTry 'xargs --help' for more information.\n", 1},
	{"xargs -P 99999999999 </dev/null", "", "xargs: value 99999999999 for -P option should be <= 2147483647\nTry 'xargs --help' for more information.\n", 1},
	{"xargs -L -1 </dev/null", "", "xargs: value -1 for -L option should be >= 1\nTry 'xargs --help' for more information.\n", 1},
	{"xargs --eof=x --replace=R --max-lines=2 -l3 </dev/null", "\n", "xargs: warning: options --replace and --max-lines/-l are mutually exclusive, ignoring previous --replace value\n", 0},
	{"echo a | xargs -E ''", "a\n", "", 0},
	{"echo a | xargs -e", "a\n", "", 0},
	{"echo a | xargs -s '  12'", "a\n", "", 0},
	{"echo a | xargs -s '12 '", "", "xargs: invalid number \"12 \" for -s option\nTry 'xargs --help' for more information.\n", 1},
	{"echo a b c | xargs --max-a=2 echo", "a b\nc\n", "", 0},
	{"echo a b c | xargs --max-args=2 --verb echo", "a b\nc\n", "echo a b\necho c\n", 0},
	{"echo a b c | xargs --replace echo {}", "a b c\n", "", 0},
	{"echo a b c | xargs --replace=R echo R", "a b c\n", "", 0},
	{"echo a b c | xargs -0rtn1 echo", "a b c\n\n", "echo 'a b c'$'\\n'\n", 0},
	{"printf \"a 'b\" | xargs echo", "a\n", "xargs: unmatched single quote; by default quotes are special to xargs unless you use the -0 option\n", 1},
	{"printf \"a ''\" | xargs -n1 echo X", "X a\n", "", 0},
	{"printf \"a _\" | xargs -E _ echo", "a _\n", "", 0},
	{"printf \"x\\ny\" | xargs -I{} echo {}.", "x.\ny.\n", "", 0},
	{"seq 1 5 | xargs -n2 -P3 echo | sort", "1 2\n3 4\n5\n", "", 0},
	{"echo a | xargs -I '' echo x", "", "xargs: command too long\n", 1},
	{"echo a | xargs -I '' echo ''", "a\n", "", 0},
	{"printf 'aaaa bbbb\\n' | xargs -I{} -s 10 echo {}", "", "xargs: command too long\n", 1},
	{"printf 'aaaa\\n' | xargs -I{} -s 10 echo {}{}", "", "xargs: argument list too long\n", 1},
	{"printf 'a\\nbbbbbbbbbbbbbbb\\n' | xargs -I{} -s 20 echo {}", "a\n", "xargs: argument line too long\n", 1},
	{"seq 100 | xargs -s 50 echo", "1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18\n19 20 21 22 23 24 25 26 27 28 29 30 31 32 33\n34 35 36 37 38 39 40 41 42 43 44 45 46 47 48\n49 50 51 52 53 54 55 56 57 58 59 60 61 62 63\n64 65 66 67 68 69 70 71 72 73 74 75 76 77 78\n79 80 81 82 83 84 85 86 87 88 89 90 91 92 93\n94 95 96 97 98 99 100\n", "", 0},
	{"printf 'aa bb cc\\n' | xargs -s 14 -x echo", "aa bb cc\n", "", 0},
	{"echo a | xargs -p echo </dev/null", "", "echoxargs: failed to open /dev/tty for reading: No such device or address\n", 1},
	{"seq 5 | xargs -n2 -t echo", "1 2\n3 4\n5\n", "echo 1 2\necho 3 4\necho 5\n", 0},
	{"printf 'a\\n' | xargs -t printf '%s\\n'", "a\n", "printf '%s\\n' a\n", 0},
	{"echo a b | xargs -n 1 -t -- sh -c 'echo \"$0\"'", "a\nb\n", "sh -c 'echo \"$0\"' a\nsh -c 'echo \"$0\"' b\n", 0},
	{"seq 1 10 | xargs -n1 -P4 sh -c 'echo $0' | sort -n", "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n", "", 0},
	{"seq 1 10 | xargs -n3 -P0 echo | sort", "1 2 3\n10\n4 5 6\n7 8 9\n", "", 0},
	{"printf '1\\n2\\n' | xargs -P2 -n1 nosuchcmd", "", "xargs: nosuchcmd: No such file or directory\n", 127},
	{"seq 1 3 | xargs -n1 -P2 sh -c 'exit 3'", "", "", 123},
	{"seq 1 3 | xargs -n1 sh -c 'exit $0'", "", "", 123},
	{"seq 1 3 | xargs -n1 sh -c 'kill -TERM $$'", "", "xargs: sh: terminated by signal 15\n", 125},
	{"echo a | xargs sh -c 'kill -INT $$'", "", "xargs: sh: terminated by signal 2\n", 125},
	{"yes abcdefghij | head -n 100000 | xargs | md5sum", "ccd1405144fae5467c1921bab198fc63  -\n", "", 0},
	{"yes abcdefghij | head -n 100000 | xargs -s 5000 | md5sum", "0960500621b0d073f5ee76bb3297f3de  -\n", "", 0},
	{"yes 'a \"b c\" d' | head -n 3000 | xargs -n 70 echo | md5sum", "06197f1444b1c91d34ca03097006520c  -\n", "", 0},
	{"seq 1 600 | xargs -L 3 echo | md5sum", "dddac02a6af31698162138d8e281f876  -\n", "", 0},
	{"seq 1 300 | xargs -I{} echo x{}y | md5sum", "0122a70b9e09941a2791781bbc441c25  -\n", "", 0},
	{"printf 'a\\nb\\n' | xargs -L1 -x -s 7 echo", "a\nb\n", "", 0},
	{"printf 'abc\\nb\\n' | xargs -L1 -x -s 7 echo", "", "xargs: argument line too long\n", 1},
	{"printf 'abc d\\n' | xargs -L1 -s 9 echo", "", "xargs: argument list too long\n", 1},
	{"xargs -r --show-limits echo </dev/null 2>&1 | grep -v environment | grep -v POSIX | grep -v Maximum", "Size of command buffer we are actually using: 131072\n", "", 0},
	{"echo a | xargs -t -P2 echo ", "a\n", "echo a\n", 0},
	{"printf 'a\\nb\\n' | xargs -tI{} echo {} ", "a\nb\n", "echo a\necho b\n", 0},
	{"echo 'a b' | xargs -n1 -t --process-slot-var=S sh -c 'echo $S'", "0\n0\n", "sh -c 'echo $S' a\nsh -c 'echo $S' b\n", 0},
	{"printf 'a\\0b\\0' | xargs -0 -I{} echo [{}]", "[a]\n[b]\n", "", 0},
	{"printf 'a b\\0c\\0' | xargs -0 -L1 echo", "a b\nc\n", "", 0},
	{"printf 'a b\\0c\\0' | xargs -0 -L2 echo", "a b c\n", "", 0},
	{"printf 'a\\tb\\n' | xargs -n1 echo", "a\nb\n", "", 0},
	{"printf 'a\\vb\\n' | xargs -n1 echo", "a\x0bb\n", "", 0},
	{"printf '\\v\\fa\\n' | xargs -n1 echo", "a\n", "", 0},
	{"printf 'a b\\\\\\n' | xargs -n1 echo", "a\nb\n\n", "", 0},
	{"printf 'a\\\\' | xargs -n1 echo", "a\n", "", 0},
	{"printf '\\\\' | xargs -n1 echo X", "X\n", "", 0},
	{"printf \"'a\\nb'\" | xargs -n1 echo X", "", "xargs: unmatched single quote; by default quotes are special to xargs unless you use the -0 option\n", 1},
	{"printf 'a\\n' | xargs -a /dev/stdin echo", "a\n", "", 0},
	{"printf 'a\\n' | xargs -a - echo", "a\n", "", 0},
	{"printf 'a\\n' | xargs --arg-file=- echo", "a\n", "", 0},
	{"cd / && echo a | xargs pwd", "/\n", "pwd: ignoring non-option arguments\n", 0},
	{"env -i PATH=/bin:/usr/bin sh -c 'echo a | xargs -t echo'", "a\n", "echo a\n", 0},
	{"echo a | PATH= xargs echo", "", "bash: line 1: xargs: No such file or directory\n", 127},
	{"printf 'x\\n' | xargs -E x echo", "\n", "", 0},
	{"printf 'x y\\n' | xargs -E x echo", "\n", "", 0},
	{"printf 'y x\\n' | xargs -E x echo", "y\n", "", 0},
	{"printf 'y\\nx\\nz\\n' | xargs -I{} -E x echo {}", "y\n", "", 0},
	{"printf 'y\\nx \\nz\\n' | xargs -I{} -E x echo {}", "y\nx \nz\n", "", 0},
	{"echo a | xargs -s 99999999 echo 2>/dev/null", "a\n", "", 0},
	// A script without #! runs under /bin/sh, as execvp runs it.
	{"echo a b | xargs ./noshebang", "script a b\n", "", 0},
	// SIGUSR1 asks GNU xargs for one more command at a time: not fatal.
	{"echo a | xargs sh -c 'kill -USR1 $PPID; echo ok'", "ok\n", "", 0},
	// Exit statuses when a command fails before the one that stops xargs.
	{"printf '1\\n255\\n3\\n' | xargs -n1 sh -c 'exit $0'", "", "xargs: sh: exited with status 255; aborting\n", 123},
	{"printf '1\\n2\\n' | xargs -n1 sh -c '[ $0 = 2 ] && kill -9 $$; exit 1'", "", "xargs: sh: terminated by signal 9\n", 125},
	{"printf '1 2 3 4\\n' | xargs -n1 -P2 sh -c 'exit 0'", "", "", 0},
	{"printf 'a\\n' | xargs -P 1 -n1 -t sh -c 'exit 255'", "", "sh -c 'exit 255' a\nxargs: sh: exited with status 255; aborting\n", 124},
	{"printf 'a b c\\n' | xargs -n2 -t --interactive echo </dev/null", "", "echoxargs: failed to open /dev/tty for reading: No such device or address\n", 1},
	{"seq 4 | xargs -n2 -x -s 9 echo", "1 2\n3 4\n", "", 0},
	{"seq 4 | xargs -L2 -s 9 echo", "1 2\n3 4\n", "", 0},
	{"printf '1\\n2\\n3\\n' | xargs -n1 sh -c '[ $0 = 2 ] && kill -9 $$; exit 1'", "", "xargs: sh: terminated by signal 9\n", 123},
	{"printf '0\\n2\\n3\\n' | xargs -n1 sh -c '[ $0 = 2 ] && kill -9 $$; exit 0'", "", "xargs: sh: terminated by signal 9\n", 125},
	{"printf '0\\n255\\n3\\n' | xargs -n1 sh -c 'exit $0'", "", "xargs: sh: exited with status 255; aborting\n", 124},
	{"printf '1\\n0\\n255\\n' | xargs -n1 sh -c 'exit $0'", "", "xargs: sh: exited with status 255; aborting\n", 124},
	{"printf '1\\n255\\n255\\n' | xargs -n1 sh -c 'exit $0'", "", "xargs: sh: exited with status 255; aborting\n", 123},
}

// xargsDir makes the directory the cases run in, and one whose xargs is
// poolrun, to put first in PATH.
func xargsDir(t *testing.T) (work, binDir string) {
	t.Helper()
	work, binDir = t.TempDir(), t.TempDir()
	for name, body := range map[string]string{"noexec": "", "s": "STDIN\n", "f": "hi\n", "noshebang": "echo script \"$@\"\n"} {
		mode := os.FileMode(0o644)
		if name == "noshebang" {
			mode = 0o755
		}
		if err := os.WriteFile(filepath.Join(work, name), []byte(body), mode); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(bin, filepath.Join(binDir, "xargs")); err != nil {
		t.Fatal(err)
	}
	return work, binDir
}

// runSh runs a shell command line in dir with PATH prefixed by pathDir
// ("" for none), under LANG=C.UTF-8.
func runSh(t *testing.T, dir, pathDir, line string) result {
	t.Helper()
	cmd := exec.Command("bash", "-c", line)
	cmd.Dir = dir
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "LC_ALL=") && !strings.HasPrefix(kv, "LANG=") && !strings.HasPrefix(kv, "PATH=") {
			env = append(env, kv)
		}
	}
	path := os.Getenv("PATH")
	if pathDir != "" {
		path = pathDir + ":" + path
	}
	cmd.Env = append(env, "LANG=C.UTF-8", "PATH="+path)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	leakcheck.Track(cmd.Process.Pid)
	cmd.Wait()
	return result{stdout: out.String(), stderr: errb.String(), code: cmd.ProcessState.ExitCode()}
}

func TestXargsLikeGNU(t *testing.T) {
	leakcheck.Check(t)
	t.Parallel()
	work, binDir := xargsDir(t)
	gnu := peer("xargs") != "" && isGNUXargs()
	for i, c := range xargsCases {
		if !sampled(i) {
			continue
		}
		r := runSh(t, work, binDir, c.sh)
		if r.stdout != c.stdout || r.stderr != c.stderr || r.code != c.code {
			t.Errorf("%s\npoolrun as xargs: stdout %q stderr %q exit %d\nGNU xargs:        stdout %q stderr %q exit %d", c.sh, r.stdout, r.stderr, r.code, c.stdout, c.stderr, c.code)
		}
		if gnu {
			if g := runSh(t, work, "", c.sh); g.stdout != c.stdout || g.stderr != c.stderr || g.code != c.code {
				t.Errorf("%s\nGNU xargs now: stdout %q stderr %q exit %d, recorded stdout %q stderr %q exit %d", c.sh, g.stdout, g.stderr, g.code, c.stdout, c.stderr, c.code)
			}
		}
	}
}

// isGNUXargs reports whether the xargs in PATH is GNU findutils 4.9's,
// the one the cases were recorded with.
func isGNUXargs() bool {
	out, err := exec.Command("xargs", "--version").Output()
	return err == nil && strings.HasPrefix(string(out), "xargs (GNU findutils) 4.9")
}

// xargs's messages name it as it was called: a path, if by a path.
func TestXargsNamedAsCalled(t *testing.T) {
	leakcheck.Check(t)
	t.Parallel()
	work, binDir := xargsDir(t)
	x := filepath.Join(binDir, "xargs")
	r := runSh(t, work, "", x+" -n 0 </dev/null")
	want := x + ": value 0 for -n option should be >= 1\nTry '" + x + " --help' for more information.\n"
	if r.stderr != want || r.code != 1 {
		t.Errorf("stderr %q exit %d, want %q exit 1", r.stderr, r.code, want)
	}
}

// An xargs run in a poolrun job shares the job's cap: with poolrun -j 2,
// xargs -P 8 inside one job never has more than 2 of its commands running
// at once (the job's own slot and the one left), and runs them all.
func TestXargsSharesInheritedCap(t *testing.T) {
	leakcheck.Check(t)
	t.Parallel()
	work, binDir := xargsDir(t)
	running := filepath.Join(work, "running")
	if err := os.Mkdir(running, 0o755); err != nil {
		t.Fatal(err)
	}
	// Each command marks itself running, records how many are, works a
	// little, and unmarks itself. Slowness only lowers the count: the
	// bound cannot fail on a busy machine.
	job := script(t, work, "job.sh", `touch "$RUN/$1"; ls "$RUN" | wc -l >> "$RUN.log"; sleep 0.2; rm "$RUN/$1"`)
	outer := script(t, work, "outer.sh", "seq 8 | xargs -P 8 -n 1 "+job)
	line := "RUN=" + running + " " + bin + " -j 2 " + outer + " ::: x"
	r := runSh(t, work, binDir, line)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	b, err := os.ReadFile(running + ".log")
	if err != nil {
		t.Fatal(err)
	}
	counts := lines(string(b))
	if len(counts) != 8 {
		t.Fatalf("%d commands ran, want 8", len(counts))
	}
	for _, c := range counts {
		if n, _ := strconv.Atoi(strings.TrimSpace(c)); n > 2 {
			t.Errorf("%d commands running at once under poolrun -j 2", n)
		}
	}
}

// SIGTERM and SIGKILL of poolrun as xargs: its commands' process groups
// are stopped (grandchildren that ignore SIGTERM too) and its private cap
// removed (leakcheck). GNU xargs leaves its commands running: poolrun
// does not leave orphans holding slots of a cap.
func TestXargsSignalCleanup(t *testing.T) {
	leakcheck.Check(t)
	t.Parallel()
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL} {
		dir := t.TempDir()
		_, binDir := xargsDir(t)
		hold := holdScript(t, dir)
		cmd := exec.Command(filepath.Join(binDir, "xargs"), "-P", "2", "-n", "1", "sh", hold)
		cmd.Stdin = strings.NewReader("a\nb\nc\n")
		var errb bytes.Buffer
		cmd.Stderr = &errb
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		leakcheck.Track(cmd.Process.Pid)
		files := pidFiles(dir, "a", "b")
		waitFiles(t, files...)
		cmd.Process.Signal(sig)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			<-done
			t.Fatalf("%v: xargs did not exit; stderr %s", sig, errb.String())
		}
		if sig == syscall.SIGTERM && cmd.ProcessState.ExitCode() != 143 {
			t.Errorf("SIGTERM: exit %d, want 143; stderr %s", cmd.ProcessState.ExitCode(), errb.String())
		}
		gone(t, files...)
		if _, err := os.Stat(filepath.Join(dir, "job.c.pid")); err == nil && sig == syscall.SIGTERM {
			t.Errorf("%v: a command started after the signal", sig)
		}
	}
}

// At -P 2 into a pipe, each command's output is printed whole: command a
// writes half a line, waits until b has written its line and ended, and
// finishes its own; under GNU xargs the two would mix ("a-startb").
// A single command's output is unchanged.
func TestXargsGroupsOutputAtP2(t *testing.T) {
	leakcheck.Check(t)
	t.Parallel()
	work, binDir := xargsDir(t)
	job := script(t, work, "job.sh", `if [ "$1" = a ]; then
  printf a-start
  while [ ! -e "$0.b" ]; do sleep 0.01; done
  echo a-end
else
  echo b; touch "$0.b"
fi`)
	r := runSh(t, work, binDir, "printf 'a\\nb\\n' | xargs -P 2 -n 1 "+job+" | cat")
	got := lines(r.stdout)
	slices.Sort(got)
	if r.code != 0 || !slices.Equal(got, []string{"a-starta-end", "b"}) {
		t.Errorf("exit %d, output %q: want each command's whole (a-starta-end, b); stderr %s", r.code, r.stdout, r.stderr)
	}
}
