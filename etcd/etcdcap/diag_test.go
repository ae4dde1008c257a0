package etcdcap

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/poolrun/poolrun/etcd/internal/etcdtest"
)

// TestOpenTLSMismatch: Open on a member serving TLS opens the cap with
// its CA, and ends at once with the reason (a *tlsError) without it, with
// a client certificate it does not want or without one it wants. (Run
// with -race, it checks the connection watch's locking too.)
func TestOpenTLSMismatch(t *testing.T) {
	m := etcdtest.StartSecure(t, etcdtest.Secure{ClientCertAuth: true})
	tg := Target{Endpoints: []string{m.Client}, Name: "tls"}
	open := func(env map[string]string) error {
		for _, k := range []string{envCACert, envCert, envKey, envInsecure} {
			t.Setenv(k, env[k])
		}
		c, err := Open(context.Background(), tg, 1)
		if err == nil {
			c.Close()
		}
		return err
	}
	if err := open(map[string]string{envCACert: m.TLS.CA, envCert: m.TLS.Cert, envKey: m.TLS.Key}); err != nil {
		t.Fatalf("Open with the CA and a client certificate: %v", err)
	}
	for _, c := range []struct {
		name string
		env  map[string]string
		want string
	}{
		{"no TLS", nil, "serves TLS"},
		{"no client certificate", map[string]string{envCACert: m.TLS.CA}, "wants a client certificate"},
		{"not trusted", map[string]string{envInsecure: "", envCert: m.TLS.Cert, envKey: m.TLS.Key, envCACert: etcdtest.NewTLSFiles(t).CA}, "not trusted"},
	} {
		err := open(c.env)
		var te *tlsError
		if !errors.As(err, &te) || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "etcdcap: ") {
			t.Errorf("%s: %v: want a tlsError saying %q", c.name, err, c.want)
		}
	}
}
