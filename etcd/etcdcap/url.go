package etcdcap

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Scheme is the URL scheme of an etcd cap: etcd://HOST:PORT[,HOST:PORT…]/NAME.
const Scheme = "etcd"

// DefaultTTL is the lease TTL of a cap whose URL sets none: a dead or cut
// off holder's slots come back after at most this long.
const DefaultTTL = 10 * time.Second

// Target is where an etcd cap is: its cluster, its name and its lease TTL.
type Target struct {
	// Endpoints are the cluster members, "HOST:PORT".
	Endpoints []string
	// Name is the cap's name, the same on every machine that shares it.
	Name string
	// TTL is the lease TTL of this process's slots (whole seconds, at
	// least 2).
	TTL time.Duration
}

// ParseURL parses etcd://HOST:PORT[,HOST:PORT…]/NAME[?ttl=DURATION]. A
// NAME is 1 to 128 letters, digits, '.', '_' or '-', not starting with
// '.'; the TTL is whole seconds, 2 s to 1 h.
func ParseURL(s string) (Target, error) {
	var t Target
	rest, ok := strings.CutPrefix(s, Scheme+"://")
	if !ok {
		return t, fmt.Errorf("etcdcap: %q: want etcd://HOST:PORT[,HOST:PORT...]/NAME", s)
	}
	hosts, pathq, ok := strings.Cut(rest, "/")
	if !ok {
		return t, fmt.Errorf("etcdcap: %q has no cap name: want etcd://HOST:PORT[,HOST:PORT...]/NAME", s)
	}
	if strings.Contains(hosts, "@") {
		return t, fmt.Errorf("etcdcap: %q: credentials go in ETCDCTL_USER and ETCDCTL_PASSWORD, not in the URL", s)
	}
	for _, h := range strings.Split(hosts, ",") {
		host, port, err := net.SplitHostPort(h)
		if err != nil || host == "" {
			return t, fmt.Errorf("etcdcap: %q: endpoint %q is not HOST:PORT", s, h)
		}
		if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
			return t, fmt.Errorf("etcdcap: %q: endpoint %q has a bad port", s, h)
		}
		t.Endpoints = append(t.Endpoints, h)
	}
	name, query, _ := strings.Cut(pathq, "?")
	if err := checkName(name); err != nil {
		return t, fmt.Errorf("etcdcap: %q: %w", s, err)
	}
	t.Name, t.TTL = name, DefaultTTL
	q, err := url.ParseQuery(query)
	if err != nil {
		return t, fmt.Errorf("etcdcap: %q: bad query: %w", s, err)
	}
	for k, v := range q {
		if k != "ttl" || len(v) != 1 {
			return t, fmt.Errorf("etcdcap: %q: unknown or repeated parameter %q (only ttl=DURATION)", s, k)
		}
		d, err := time.ParseDuration(v[0])
		if err != nil || d < 2*time.Second || d > time.Hour || d%time.Second != 0 {
			return t, fmt.Errorf("etcdcap: %q: ttl=%s: want whole seconds from 2s to 1h", s, v[0])
		}
		t.TTL = d
	}
	return t, nil
}

// String is t's URL.
func (t Target) String() string {
	s := Scheme + "://" + strings.Join(t.Endpoints, ",") + "/" + t.Name
	if t.TTL != DefaultTTL && t.TTL != 0 {
		s += "?ttl=" + t.TTL.String()
	}
	return s
}

func checkName(name string) error {
	if name == "" || len(name) > 128 || name[0] == '.' {
		return fmt.Errorf("cap name %q: want 1 to 128 letters, digits, '.', '_' or '-', not starting with '.'", name)
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return fmt.Errorf("cap name %q: %q is not allowed (letters, digits, '.', '_' or '-')", name, r)
		}
	}
	return nil
}

// prefix is where the cap's keys are in etcd.
func (t Target) prefix() string { return "/poolrun/cap/" + t.Name + "/" }
