package etcdcap

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// User is a process holding or waiting for slots of a cap.
type User struct {
	Host string
	PID  int
	// Held and Waiting are how many slots it holds and waits for.
	Held, Waiting int
}

// Info is a cap in use, as List sees it.
type Info struct {
	Name  string
	Size  int
	Held  int // slots held, all users together
	Users []User
}

// ParseListURL parses etcd://HOST:PORT[,…]/[NAME]: the caps to list, all
// of them if NAME is empty.
func ParseListURL(s string) (Target, error) {
	return parseURL(s, true)
}

// List lists the caps of t in use (t.Name's only, if set): their size,
// and who holds and waits, by host and pid.
func List(ctx context.Context, t Target) ([]Info, error) {
	ctx, cancel := context.WithTimeout(ctx, OpenTimeout)
	defer cancel()
	cli, ctx, done, err := dial(ctx, t)
	if err != nil {
		return nil, err
	}
	defer cli.Close()
	defer done()
	pfx := "/poolrun/cap/"
	if t.Name != "" {
		pfx = t.prefix()
	}
	r, err := cli.Get(ctx, pfx, clientv3.WithPrefix(), clientv3.WithSort(clientv3.SortByCreateRevision, clientv3.SortAscend))
	if err != nil {
		var te *tlsError
		if errors.As(context.Cause(ctx), &te) {
			err = te
		} else if errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil {
			return nil, unanswered(t, "listing", err)
		}
		return nil, explain(t, "list the caps", err)
	}
	byName := map[string]*Info{}
	users := map[string]map[string]*User{} // cap → lease → user
	for _, kv := range r.Kvs {
		rest := strings.TrimPrefix(string(kv.Key), "/poolrun/cap/")
		name, rest, _ := strings.Cut(rest, "/")
		kind, id, _ := strings.Cut(rest, "/")
		if kind != "s" {
			continue
		}
		in := byName[name]
		if in == nil {
			in = &Info{Name: name, Size: sizeOf(kv.Value, 0)}
			byName[name], users[name] = in, map[string]*User{}
		}
		lease, _, _ := strings.Cut(id, ".")
		u := users[name][lease]
		if u == nil {
			f := strings.Fields(string(kv.Value))
			u = &User{}
			if len(f) == 3 {
				u.Host = f[1]
				u.PID, _ = strconv.Atoi(f[2])
			}
			users[name][lease] = u
		}
		if in.Held < in.Size {
			in.Held++
			u.Held++
		} else {
			u.Waiting++
		}
	}
	var out []Info
	for name, in := range byName {
		for _, u := range users[name] {
			in.Users = append(in.Users, *u)
		}
		sort.Slice(in.Users, func(i, j int) bool {
			a, b := in.Users[i], in.Users[j]
			return a.Host < b.Host || a.Host == b.Host && a.PID < b.PID
		})
		out = append(out, *in)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// WaitIdle waits until nobody holds a slot of the cap t (no slot key is
// left: the first keys always hold, so none held means none waiting),
// or ctx is done: GNU sem's --wait for an etcd cap. Dialling etcd is
// bounded by OpenTimeout; the wait itself is not.
func WaitIdle(ctx context.Context, t Target) error {
	if err := checkName(t.Name); err != nil {
		return fmt.Errorf("etcdcap: %w", err)
	}
	dctx, cancel := context.WithTimeout(ctx, OpenTimeout)
	cli, _, done, err := dial(dctx, t)
	if err != nil {
		cancel()
		return err
	}
	done()
	cancel()
	defer cli.Close()
	pfx := t.prefix() + "s/"
	for {
		gctx, cancel := context.WithTimeout(ctx, OpenTimeout)
		r, err := cli.Get(gctx, pfx, clientv3.WithPrefix(), clientv3.WithCountOnly())
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("etcdcap: waiting for %s to be idle: %w", t, ctx.Err())
			}
			return fmt.Errorf("etcdcap: waiting for %s to be idle: etcd at %s: %w", t, strings.Join(t.Endpoints, ","), err)
		}
		if r.Count == 0 {
			return nil
		}
		// Woken by any deletion after what was read: the count again.
		wctx, cancel := context.WithCancel(ctx)
		wch := cli.Watch(wctx, pfx, clientv3.WithPrefix(), clientv3.WithRev(r.Header.Revision+1), clientv3.WithFilterPut())
		select {
		case <-wch:
		case <-ctx.Done():
		}
		cancel()
		if ctx.Err() != nil {
			return fmt.Errorf("etcdcap: waiting for %s to be idle: %w", t, ctx.Err())
		}
	}
}
