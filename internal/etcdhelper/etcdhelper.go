// Package etcdhelper reaches caps on etcd through the helper binary
// poolrun-etcd (module github.com/poolrun/poolrun/etcd), which serves one
// over its standard input and output (internal/remotecap). The poolrun
// binary and package pool use it, so that neither links the etcd client
// and grpc: programs that never use an etcd cap do not pay for them.
//
// The shortest real use:
//
//	c, err := etcdhelper.Open("etcd://127.0.0.1:2379/builds", 4)
//	if err != nil {
//		return err
//	}
//	defer c.Close()
package etcdhelper

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/poolrun/poolrun/internal/remotecap"
)

const (
	// Scheme starts every etcd cap's URL.
	Scheme = "etcd://"
	// Name is the helper's name, looked for beside this executable, then
	// in PATH; the environment variable Env names it instead.
	Name = "poolrun-etcd"
	// Env, if set, is the helper's path.
	Env = "POOLRUN_ETCD_HELPER"
	// ReadyWait bounds the wait for the helper to reach etcd; the helper
	// gives up by itself sooner (etcdcap.OpenTimeout).
	ReadyWait = 20 * time.Second
)

// IsURL reports whether s names an etcd cap.
func IsURL(s string) bool { return strings.HasPrefix(s, Scheme) }

// Find is the path of poolrun-etcd, or an error that says how to get it.
func Find() (string, error) {
	if p := os.Getenv(Env); p != "" {
		return p, nil
	}
	if exe, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(exe), Name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	if p, err := exec.LookPath(Name); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("etcd caps need the %s helper, found neither beside this program nor in PATH: install it with `go install github.com/poolrun/poolrun/etcd/cmd/%s@latest` (or set %s)", Name, Name, Env)
}

// Open starts the helper on the cap at url, made with n slots if it does
// not exist, and waits until it holds the cap. The error is the helper's
// line (which names the URL), or why there is no helper.
func Open(url string, n int) (*remotecap.Cap, error) {
	return Start([]string{"cap", url, strconv.Itoa(n)}, url)
}

// Start starts the helper with args (a cap request, as Open makes), for
// the cap called name in messages.
func Start(args []string, name string) (*remotecap.Cap, error) {
	path, err := Find()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(path, args...)
	cmd.Stderr = os.Stderr
	// Its own process group: the terminal's ^C is for the program, which
	// stops what runs on the cap's slots and then lets the helper go.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	return remotecap.Start(cmd, name, ReadyWait)
}
