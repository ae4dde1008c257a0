package batch

import (
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// command is how each job's process is built from its input: parsed
// once, rendered per job.
type command struct {
	shell    bool       // run as sh -c SCRIPT
	raw      bool       // no command: the input is the script, unquoted
	args     []template // direct: argv; shell: the script (one template)
	appendIn bool       // no replacement string anywhere: the input is appended
	path     string     // direct with a literal argv[0]: its resolved path
	lits     []string   // literal values of args (for the ones that have no replacement)

	shellPath string // the shell that runs shell commands
	shellName string // its argv[0]

	argvMode bool     // Spec.Argv: each input is the argv
	looked   sync.Map // argvMode: program name → lookResult
}

// lookResult is a program looked up in PATH (Spec.Argv).
type lookResult struct {
	path string
	err  error
}

// defaultShell runs shell commands when Spec.Shell is not set.
const defaultShell = "/bin/sh"

// parseCommand builds the command from the words after the flags, for
// /bin/sh and this process's environment.
func parseCommand(words []string) (*command, error) { return parseCommandFor(words, &Spec{}) }

// parseCommandFor builds the command from the words after the flags, as
// spec says (Shell, Env, Replace, Direct). No words: each input is a
// shell command. One word with shell syntax ("gzip {} && rm {}"), or a
// first word that is a shell builtin or a function exported in Env (nil:
// this process's): a shell script run by Shell ("": /bin/sh), unless
// Direct. Anything else: argv, run without a shell. Replace, if set,
// stands for {}.
func parseCommandFor(words []string, spec *Spec) (*command, error) {
	shell, env, repl := spec.Shell, spec.Env, spec.Replace
	if shell == "" {
		shell = defaultShell
	}
	c := &command{shellPath: shell, shellName: filepath.Base(shell)}
	if len(words) == 0 {
		c.shell, c.raw = true, true
		return c, nil
	}
	if len(words) == 1 && (needsShell(words[0]) || IsShellBuiltin(words[0])) {
		c.shell = true
	}
	if first := strings.Fields(words[0]); len(words) == 1 && len(first) > 0 && IsExportedFunction(first[0], env) {
		c.shell = true
	}
	if spec.Direct {
		c.shell = false
	}
	anyRepl := false
	for _, w := range words {
		t, err := parseTemplateWith(w, repl, spec.Plus)
		if err != nil {
			return nil, err
		}
		if c.shell {
			if err := t.shellCheck(w); err != nil {
				return nil, err
			}
		}
		anyRepl = anyRepl || t.repl
		c.args = append(c.args, t)
		lit, _ := t.literal()
		c.lits = append(c.lits, lit)
	}
	c.appendIn = !anyRepl
	if !c.shell {
		if name, ok := c.args[0].literal(); ok {
			if name == "" {
				return nil, fmt.Errorf("the command is an empty word")
			}
			// Looked up once. One that is not found is each job's failure
			// (exit 127), as it is under GNU parallel's shell: build looks
			// again per job, and Start says what is wrong.
			if p, err := exec.LookPath(name); err == nil {
				c.path = p
			}
		}
	}
	return c, nil
}

// build returns the program and its argv (argv[0] included) for one job.
// buf is scratch space reused between calls.
func (c *command) build(v *jobVars, buf *[]byte) (path string, argv []string) {
	if c.argvMode {
		argv = append([]string(nil), v.args...)
		if len(argv) == 0 {
			argv = []string{""}
		}
		return c.look(argv[0]).path, argv
	}
	if c.raw {
		return c.shellPath, []string{c.shellName, "-c", strings.Join(v.args, " ")}
	}
	if c.shell {
		b := c.args[0].render((*buf)[:0], v, true)
		if c.appendIn {
			for _, a := range v.args {
				b = append(b, ' ')
				b = appendShellQuote(b, a)
			}
		}
		*buf = b
		return c.shellPath, []string{c.shellName, "-c", string(b)}
	}
	n := len(c.args)
	if c.appendIn {
		n += len(v.args)
	}
	argv = make([]string, 0, n)
	for i := range c.args {
		t := &c.args[i]
		switch {
		case !t.repl:
			argv = append(argv, c.lits[i])
		case t.whole() && len(v.args) != 1:
			for _, a := range v.args {
				argv = append(argv, t.parts[0].apply(a))
			}
		case !v.context && t.context && len(v.args) > 1:
			// {} in a word with several arguments: the words the shell
			// would make of it, as GNU parallel runs it (x{}y with a b
			// is xa by: two words).
			argv = t.splitRender(argv, v)
		case v.context && t.context && len(v.args) > 1:
			// Context replace: the word once per argument, each its own.
			for _, a := range v.args {
				one := *v
				one.args, one.context = []string{a}, false
				b := t.render((*buf)[:0], &one, false)
				*buf = b
				argv = append(argv, string(b))
			}
		default:
			b := t.render((*buf)[:0], v, false)
			*buf = b
			argv = append(argv, string(b))
		}
	}
	if c.appendIn {
		argv = append(argv, v.args...)
	}
	if len(argv) == 2 && argv[0] == "echo" && (argv[1] == "--help" || argv[1] == "--version") {
		// /bin/echo would print its own help; the shell's echo, which
		// GNU parallel runs, prints the word.
		return c.shellPath, []string{c.shellName, "-c", `echo "$1"`, c.shellName, argv[1]}
	}
	path = c.path
	if path == "" {
		p, err := exec.LookPath(argv[0])
		if err != nil {
			p = argv[0] // Start reports it, as the job's failure
		}
		path = p
	}
	return path, argv
}

// commandLine is the job's command as one line for --joblog, --dry-run
// and --results: the script, or the argv quoted for sh.
func (c *command) line(argv []string) string {
	if c.shell {
		return argv[2]
	}
	var b []byte
	for i, a := range argv {
		if i > 0 {
			b = append(b, ' ')
		}
		b = appendShellQuote(b, a)
	}
	return string(b)
}

// IsShellBuiltin reports whether name is a command the shell runs itself
// (pwd, cd, exit, export, ...): run directly, a program of that name (if
// any) would not do the same (/bin/pwd complains of arguments the builtin
// ignores), so a command that starts with one runs under the shell.
func IsShellBuiltin(name string) bool {
	switch name {
	case ".", ":", "alias", "bg", "break", "cd", "command", "continue", "eval", "exec", "exit", "export",
		"fg", "getopts", "hash", "jobs", "local", "pwd", "read", "readonly", "return", "set", "shift",
		"source", "times", "trap", "type", "ulimit", "umask", "unalias", "unset", "wait":
		return true
	}
	return false
}

// IsExportedFunction reports whether name is a shell function exported
// in env (nil: this process's environment) by bash's export -f, which
// bash passes as BASH_FUNC_name%%=() { ...; }. Such a command runs under
// the shell, as GNU parallel runs every command, for bash to find it.
func IsExportedFunction(name string, env []string) bool {
	if env == nil {
		env = os.Environ()
	}
	for _, prefix := range []string{"BASH_FUNC_" + name + "%%=", "BASH_FUNC_" + name + "()="} {
		for _, kv := range env {
			if strings.HasPrefix(kv, prefix) {
				return true
			}
		}
	}
	return false
}

// look finds name in PATH as execvp(3) does, once per name (Spec.Argv).
func (c *command) look(name string) lookResult {
	if r, ok := c.looked.Load(name); ok {
		return r.(lookResult)
	}
	p, err := lookPathExecvp(name, os.Getenv("PATH"))
	r := lookResult{path: p, err: err}
	c.looked.Store(name, r)
	return r
}

// lookErr is why name cannot be run, as far as PATH tells (Spec.Argv).
func (c *command) lookErr(name string) error { return c.look(name).err }

// lookPathExecvp finds a program as glibc's execvp does: a name with a
// slash as it is (exec says what is wrong with it); else the first
// executable regular file of that name in a PATH directory ("" is the
// working directory; no PATH: /bin:/usr/bin). Not found is ENOENT, unless
// a file of that name was there but could not be run: EACCES. Go's
// exec.LookPath differs: it would find nothing where execvp meets a
// non-executable file, and it refuses a program found in "." .
func lookPathExecvp(name, path string) (string, error) {
	if name == "" {
		return name, &fs.PathError{Op: "exec", Path: name, Err: syscall.ENOENT}
	}
	if strings.Contains(name, "/") {
		return name, nil
	}
	if path == "" {
		if _, set := os.LookupEnv("PATH"); !set {
			path = "/bin:/usr/bin"
		}
	}
	denied := false
	for _, dir := range strings.Split(path, ":") {
		if dir == "" {
			dir = "."
		}
		p := dir + "/" + name
		st, err := os.Stat(p)
		if err != nil {
			if errorsIsPerm(err) {
				denied = true
			}
			continue
		}
		if st.Mode().IsRegular() && unix.Access(p, unix.X_OK) == nil {
			return p, nil
		}
		denied = true
	}
	if denied {
		return name, &fs.PathError{Op: "exec", Path: name, Err: syscall.EACCES}
	}
	return name, &fs.PathError{Op: "exec", Path: name, Err: syscall.ENOENT}
}

func errorsIsPerm(err error) bool {
	pe, ok := err.(*fs.PathError)
	return ok && pe.Err == syscall.EACCES
}

// splitRender appends the words t makes with several arguments where
// each {} stands for all of them, one word apiece: the text before {}
// joins the first, the text after it the last.
func (t *template) splitRender(argv []string, v *jobVars) []string {
	var cur []byte
	for i := range t.parts {
		p := &t.parts[i]
		if p.kind == pLit || p.col > 0 || p.kind.perJob() {
			cur = renderParts(cur, t.parts[i:i+1], v, false)
			continue
		}
		for k, a := range v.args {
			if k > 0 {
				argv = append(argv, string(cur))
				cur = cur[:0]
			}
			cur = append(cur, p.apply(a)...)
		}
	}
	return append(argv, string(cur))
}

// shellLen is the size of the job's command line as GNU parallel sizes
// it for -s: that of shellLine.
func (c *command) shellLen(v *jobVars, buf *[]byte) int {
	if c.raw || c.shell {
		_, argv := c.build(v, buf)
		return len(argv[len(argv)-1])
	}
	*buf = c.appendShellLine((*buf)[:0], v)
	return len(*buf)
}

// shellLine is the job's command line as GNU parallel shows it (--dry-run,
// -t) and sizes it (-s): the shell script, each replacement quoted, the
// words joined with spaces (what it would run under sh); x{}y with "a b"
// is x'a b'y.
func (c *command) shellLine(v *jobVars) string {
	if c.raw || c.shell || c.argvMode {
		var buf []byte
		_, argv := c.build(v, &buf)
		return c.line(argv)
	}
	return string(c.appendShellLine(nil, v))
}

func (c *command) appendShellLine(b []byte, v *jobVars) []byte {
	for i := range c.args {
		if i > 0 {
			b = append(b, ' ')
		}
		b = c.args[i].render(b, v, true)
	}
	if c.appendIn {
		for _, a := range v.args {
			b = append(b, ' ')
			b = appendShellQuote(b, a)
		}
	}
	return b
}
