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
	// Stop is how long this process needs, once the lease is lost, to stop
	// what runs on its slots (poolrun's TERM-to-KILL grace). Not part of
	// the URL: each user says its own. See Guard.
	Stop time.Duration
}

// stopMargin is added to Target.Stop for the signals to land and the
// stopped processes to be reaped.
const stopMargin = 100 * time.Millisecond

// Guard is how long before etcd may expire the lease the cap is declared
// lost: a quarter of the TTL, or Stop and a margin if that is longer, so
// that what runs on the slots is stopped before etcd can give them to
// others.
func (t Target) Guard() time.Duration {
	return max(t.TTL/4, t.Stop+stopMargin)
}

// maxGuard is the longest Guard a TTL allows: the lease is renewed every
// fifth of the TTL, and a renewal must have two chances to land before
// the fence.
func maxGuard(ttl time.Duration) time.Duration { return ttl * 3 / 5 }

// ParseURL parses etcd://HOST:PORT[,HOST:PORT…]/NAME[?ttl=DURATION]. A
// NAME is 1 to 128 letters, digits, '.', '_' or '-', not starting with
// '.'; the TTL is whole seconds, 2 s to 1 h.
func ParseURL(s string) (Target, error) { return parseURL(s, false) }

// parseURL is ParseURL; anyName allows an empty name too.
func parseURL(s string, anyName bool) (Target, error) {
	var t Target
	rest, ok := strings.CutPrefix(s, Scheme+"://")
	if !ok {
		return t, fmt.Errorf("etcdcap: %q: want etcd://HOST:PORT[,HOST:PORT...]/NAME", Redact(s))
	}
	// Before anything that shows a part of the URL: a password may hold
	// a '/' or a ','. A name cannot hold a '@'.
	if strings.Contains(rest, "@") {
		return t, fmt.Errorf("etcdcap: %q: credentials go in %s and %s, not in the URL (they would show in ps and in messages)", Redact(s), envUser, envPassword)
	}
	hosts, pathq, ok := strings.Cut(rest, "/")
	if !ok {
		return t, fmt.Errorf("etcdcap: %q has no cap name: want etcd://HOST:PORT[,HOST:PORT...]/NAME", s)
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
	if err := checkName(name); err != nil && !(anyName && name == "") {
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

// Redact is the URL s, for a message, with what may be credentials in
// it (etcd://USER:PASSWORD@…) hidden.
func Redact(s string) string {
	rest, ok := strings.CutPrefix(s, Scheme+"://")
	if i := strings.LastIndex(rest, "@"); ok && i >= 0 {
		return Scheme + "://…" + rest[i:]
	}
	return s
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
