package etcdcap

import (
	"strings"
	"testing"
	"time"
)

func TestParseURL(t *testing.T) {
	good := map[string]Target{
		"etcd://127.0.0.1:2379/a":               {Endpoints: []string{"127.0.0.1:2379"}, Name: "a", TTL: DefaultTTL},
		"etcd://h1:1,h2:2/farm.gpu_q-1?ttl=30s": {Endpoints: []string{"h1:1", "h2:2"}, Name: "farm.gpu_q-1", TTL: 30 * time.Second},
		"etcd://[::1]:2379/x?ttl=2s":            {Endpoints: []string{"[::1]:2379"}, Name: "x", TTL: 2 * time.Second},
	}
	for s, want := range good {
		got, err := ParseURL(s)
		if err != nil || strings.Join(got.Endpoints, ",") != strings.Join(want.Endpoints, ",") || got.Name != want.Name || got.TTL != want.TTL {
			t.Errorf("ParseURL(%q) = %+v, %v; want %+v", s, got, err, want)
		}
		if again, err := ParseURL(got.String()); err != nil || again.String() != got.String() {
			t.Errorf("%q: String %q does not parse back: %v", s, got.String(), err)
		}
	}
	for _, s := range []string{
		"", "etcd://", "etcd://h:1", "etcd://h:1/", "etcd://h/a", "etcd://h:0/a", "etcd://:1/a",
		"etcd://h:1/.a", "etcd://h:1/a/b", "etcd://h:1/a?ttl=1s", "etcd://h:1/a?ttl=2.5s",
		"etcd://h:1/a?x=1", "etcd://u:p@h:1/a", "http://h:1/a", "etcd://h:1,/a",
		"etcd://h:1/" + strings.Repeat("a", 129),
	} {
		if _, err := ParseURL(s); err == nil {
			t.Errorf("ParseURL(%q): no error", s)
		} else if !strings.HasPrefix(err.Error(), "etcdcap: ") || strings.Contains(err.Error(), "\n") {
			t.Errorf("ParseURL(%q): %q is not one etcdcap: line", s, err)
		}
	}
	if tg, err := ParseListURL("etcd://h:1/"); err != nil || tg.Name != "" {
		t.Errorf("ParseListURL of all caps: %+v %v", tg, err)
	}
	if _, err := ParseListURL("etcd://h:1/a+b"); err == nil || !strings.Contains(err.Error(), `"etcd://h:1/a+b"`) {
		t.Errorf("ParseListURL of a bad name: %v: want the URL as given", err)
	}
}

// TestCredentialsNotShown: a URL with credentials is refused, and the
// message does not show them, wherever the password has a '/' or a ','.
func TestCredentialsNotShown(t *testing.T) {
	for _, s := range []string{
		"etcd://root:hunter2@h:1/a", "etcd://root:hun/ter2@h:1/a", "etcd://root:hun,ter2@h:1,h:2/a",
		"etcd://root:hunter2@h:1/", "etcd://root:hun@ter2@h:1/a?ttl=1s",
	} {
		for _, parse := range []func(string) (Target, error){ParseURL, ParseListURL} {
			_, err := parse(s)
			if err == nil || !strings.Contains(err.Error(), "ETCDCTL_USER") {
				t.Errorf("%q: %v: want it refused, naming ETCDCTL_USER", s, err)
			} else if strings.Contains(err.Error(), "hun") || strings.Contains(err.Error(), "ter2") {
				t.Errorf("%q: %q shows the password", s, err)
			}
		}
		if r := Redact(s); strings.Contains(r, "hun") || strings.Contains(r, "ter2") || strings.Contains(r, "root") {
			t.Errorf("Redact(%q) = %q", s, r)
		}
	}
	if s := "etcd://h:1/a"; Redact(s) != s {
		t.Errorf("Redact(%q) = %q", s, Redact(s))
	}
}

// FuzzParseURL: any string parses or is refused with one line; what
// parses has a valid name and prints back to itself.
func FuzzParseURL(f *testing.F) {
	for _, s := range []string{"etcd://127.0.0.1:2379/a", "etcd://h1:1,h2:2/b?ttl=30s", "etcd://h:1/", "etcd://[::1]:1/x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tg, err := ParseURL(s)
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("a multi-line error: %q", err)
			}
			return
		}
		if checkName(tg.Name) != nil || len(tg.Endpoints) == 0 || tg.TTL < 2*time.Second {
			t.Errorf("%q parsed to %+v", s, tg)
		}
		if again, err := ParseURL(tg.String()); err != nil || again.String() != tg.String() {
			t.Errorf("%q: %q does not parse back: %v", s, tg.String(), err)
		}
	})
}

// TestGuard: the fence comes a quarter of the TTL early, or the holder's
// stop time (and a margin) early if that is longer; a stop time the TTL
// cannot leave room for is refused before etcd is dialled.
func TestGuard(t *testing.T) {
	for _, c := range []struct {
		ttl, stop, want time.Duration
	}{
		{10 * time.Second, 0, 2500 * time.Millisecond},
		{10 * time.Second, time.Second, 2500 * time.Millisecond},
		{2 * time.Second, time.Second, 1100 * time.Millisecond},
		{10 * time.Second, 5 * time.Second, 5100 * time.Millisecond},
	} {
		if g := (Target{TTL: c.ttl, Stop: c.stop}).Guard(); g != c.want {
			t.Errorf("TTL %v, stop %v: Guard %v, want %v", c.ttl, c.stop, g, c.want)
		}
	}
	tg, err := ParseURL("etcd://127.0.0.1:1/a?ttl=2s")
	if err != nil {
		t.Fatal(err)
	}
	tg.Stop = 3 * time.Second
	_, err = Open(t.Context(), tg, 1)
	if err == nil || !strings.Contains(err.Error(), "use ?ttl=6s or more") {
		t.Errorf("Open with a stop time of 3s on a TTL of 2s: %v", err)
	}
}
