// Command poolrun-etcd is the helper through which poolrun uses etcd
// caps (poolrun --sem etcd://HOST:PORT/NAME, poolrun sem ls etcd://…):
// it holds the etcd client, which poolrun's own binary does not link, and
// serves the cap to poolrun over its standard input and output. Install
// it beside poolrun or in PATH:
//
//	go install github.com/poolrun/poolrun/etcd/cmd/poolrun-etcd@latest
//
// Usage (poolrun runs it; people run only ls):
//
//	poolrun-etcd cap URL N [STOP]
//	                         serve the cap URL, made with N slots if new;
//	                         STOP is how long the client needs to stop its
//	                         jobs when the lease is lost (its grace)
//	poolrun-etcd cap-env     serve the cap this process's job runs on
//	poolrun-etcd ls URL      list the caps at URL (etcd://HOST:PORT/[NAME])
//	poolrun-etcd wait URL    wait until nobody holds a slot of the cap URL (sem --wait)
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/poolrun/poolrun/etcd/etcdcap"
	"github.com/poolrun/poolrun/internal/remotecap"
)

const version = "poolrun-etcd 0.1.0"

func main() { os.Exit(run(os.Args[1:])) }

func run(args []string) int {
	// poolrun's death ends the input; a write to its closed pipe must
	// then be an error, not a SIGPIPE that kills this process before it
	// revokes the lease.
	signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)
	if len(args) == 0 {
		return usage()
	}
	switch args[0] {
	case "--version":
		fmt.Println(version)
		return 0
	case "cap":
		if len(args) != 3 && len(args) != 4 {
			return usage()
		}
		n, err := strconv.Atoi(args[2])
		if err != nil || n < 1 {
			remotecap.Failed(os.Stdout, fmt.Errorf("%q slots: want a whole number, at least 1", args[2]))
			return 255
		}
		t, err := etcdcap.ParseURL(args[1])
		if err != nil {
			remotecap.Failed(os.Stdout, err)
			return 255
		}
		if len(args) == 4 {
			if t.Stop, err = time.ParseDuration(args[3]); err != nil || t.Stop < 0 {
				remotecap.Failed(os.Stdout, fmt.Errorf("stop time %q: want a duration such as 1s", args[3]))
				return 255
			}
		}
		c, err := etcdcap.Open(context.Background(), t, n)
		return serve(c, err)
	case "cap-env":
		c, err := etcdcap.FromEnv(context.Background())
		return serve(c, err)
	case "ls":
		if len(args) != 2 {
			return usage()
		}
		return list(args[1])
	case "wait":
		if len(args) != 2 {
			return usage()
		}
		t, err := etcdcap.ParseURL(args[1])
		if err == nil {
			err = etcdcap.WaitIdle(context.Background(), t)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "poolrun: sem --wait: %s\n", strings.TrimPrefix(err.Error(), "etcdcap: "))
			return 255
		}
		return 0
	}
	return usage()
}

func serve(c *etcdcap.Cap, err error) int {
	if err != nil {
		remotecap.Failed(os.Stdout, err)
		return 255
	}
	serr := remotecap.Serve(os.Stdin, os.Stdout, c)
	if err := c.Close(); err != nil {
		fmt.Fprintf(os.Stderr, "poolrun-etcd: %v\n", err)
		return 1
	}
	if serr != nil {
		return 1
	}
	return 0
}

func list(u string) int {
	fail := func(err error) int {
		// As poolrun says its own errors: "poolrun: sem ls URL: …".
		fmt.Fprintf(os.Stderr, "poolrun: sem ls %s\n", strings.TrimPrefix(err.Error(), "etcdcap: "))
		return 255
	}
	t, err := etcdcap.ParseListURL(u)
	if err != nil {
		return fail(err)
	}
	caps, err := etcdcap.List(context.Background(), t)
	if err != nil {
		return fail(err)
	}
	fmt.Printf("%-24s %5s %5s  %s\n", "NAME", "SIZE", "HELD", "USERS (host:pid held/waiting)")
	for _, c := range caps {
		fmt.Printf("%-24s %5d %5d ", c.Name, c.Size, c.Held)
		for _, us := range c.Users {
			fmt.Printf(" %s:%d %d/%d", us.Host, us.PID, us.Held, us.Waiting)
		}
		fmt.Println()
	}
	return 0
}

func usage() int {
	fmt.Fprintln(os.Stderr, "poolrun: usage: poolrun-etcd cap URL N [STOP] | cap-env | ls etcd://HOST:PORT/[NAME] | wait URL | --version (poolrun runs it for --sem etcd://...)")
	return 255
}
