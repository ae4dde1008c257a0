package etcdtest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
)

// Secure is how StartSecure's member guards its client endpoint.
type Secure struct {
	// TLS serves the client endpoint over TLS only, with a server
	// certificate for 127.0.0.1 signed by a throwaway CA (Member.TLS).
	TLS bool
	// ClientCertAuth also requires clients to show a certificate signed
	// by that CA (Member.TLS.Cert, .Key). It implies TLS.
	ClientCertAuth bool
	// RootPassword, if set, enables auth: the user root has this
	// password and the root role.
	RootPassword string
	// Users are more users (name to password), with no role: they get
	// in, and may touch no key.
	Users map[string]string
	// TokenTTL, if set, is how long an auth token lives unused (etcd's
	// --auth-token-ttl; 5 minutes by default).
	TokenTTL time.Duration
}

// TLSFiles are the PEM files of a throwaway CA, in a temporary directory
// removed at the end of the test.
type TLSFiles struct {
	Dir string
	CA  string // the CA's certificate (for ETCDCTL_CACERT)
	// ServerCert and ServerKey are the member's, for 127.0.0.1.
	ServerCert, ServerKey string
	// Cert and Key are a client's (for ETCDCTL_CERT and ETCDCTL_KEY),
	// signed by the CA, common name "poolrun-test".
	Cert, Key string
}

// NewTLSFiles makes a CA (ECDSA P-256, valid for an hour), a server
// certificate for 127.0.0.1 and a client certificate signed by it, and
// writes them to a directory of t.TempDir.
func NewTLSFiles(t testing.TB) *TLSFiles {
	t.Helper()
	dir := t.TempDir()
	f := &TLSFiles{
		Dir: dir, CA: filepath.Join(dir, "ca.pem"),
		ServerCert: filepath.Join(dir, "server.pem"), ServerKey: filepath.Join(dir, "server-key.pem"),
		Cert: filepath.Join(dir, "client.pem"), Key: filepath.Join(dir, "client-key.pem"),
	}
	now := time.Now()
	caKey := newKey(t)
	ca := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "poolrun test CA"},
		NotBefore:             now.Add(-time.Minute),
		NotAfter:              now.Add(time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	if ca, err = x509.ParseCertificate(caDER); err != nil {
		t.Fatal(err)
	}
	writePEM(t, f.CA, "CERTIFICATE", caDER)
	for i, c := range []struct {
		cert, key string
		tmpl      x509.Certificate
	}{
		{f.ServerCert, f.ServerKey, x509.Certificate{
			Subject:     pkix.Name{CommonName: "127.0.0.1"},
			IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		}},
		{f.Cert, f.Key, x509.Certificate{
			Subject:     pkix.Name{CommonName: "poolrun-test"},
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		}},
	} {
		k := newKey(t)
		tmpl := c.tmpl
		tmpl.SerialNumber = big.NewInt(int64(i + 2))
		tmpl.NotBefore, tmpl.NotAfter = now.Add(-time.Minute), now.Add(time.Hour)
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature
		der, err := x509.CreateCertificate(rand.Reader, &tmpl, ca, &k.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		writePEM(t, c.cert, "CERTIFICATE", der)
		kder, err := x509.MarshalECPrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		writePEM(t, c.key, "EC PRIVATE KEY", kder)
	}
	return f
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func writePEM(t testing.TB, path, kind string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// StartSecure starts a one-member cluster guarded as s says, stopped at
// the end of the test. Its Client is HOST:PORT, as for Start; TLS is its
// files (nil without TLS), and NewClient a client that gets in.
func StartSecure(t testing.TB, s Secure) *Member {
	t.Helper()
	var files *TLSFiles
	if s.TLS || s.ClientCertAuth {
		files = NewTLSFiles(t)
	}
	m := cluster(t, 1, func(cfg *embed.Config) {
		if files != nil {
			u := cfg.ListenClientUrls[0]
			u.Scheme = "https"
			cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{u}, []url.URL{u}
			cfg.ClientTLSInfo = transport.TLSInfo{CertFile: files.ServerCert, KeyFile: files.ServerKey}
			if s.ClientCertAuth {
				// A trusted CA makes the server require a client
				// certificate signed by it, ClientCertAuth or not.
				cfg.ClientTLSInfo.TrustedCAFile, cfg.ClientTLSInfo.ClientCertAuth = files.CA, true
			}
		}
		// bcrypt's least cost: the test's password needs no strength.
		cfg.BcryptCost = 4
		if s.TokenTTL > 0 {
			cfg.AuthTokenTTL = uint((s.TokenTTL + time.Second - 1) / time.Second)
		}
	})[0]
	m.TLS, m.secure = files, s
	if s.RootPassword != "" {
		cli := m.NewClient(t)
		defer cli.Close()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, err := cli.UserAdd(ctx, "root", s.RootPassword); err != nil {
			t.Fatalf("etcd: adding user root: %v", err)
		}
		if _, err := cli.UserGrantRole(ctx, "root", "root"); err != nil {
			t.Fatalf("etcd: granting root the root role: %v", err)
		}
		for u, pw := range s.Users {
			if _, err := cli.UserAdd(ctx, u, pw); err != nil {
				t.Fatalf("etcd: adding user %s: %v", u, err)
			}
		}
		if _, err := cli.AuthEnable(ctx); err != nil {
			t.Fatalf("etcd: enabling auth: %v", err)
		}
		m.user, m.password = "root", s.RootPassword
	}
	return m
}

// NewClient is a client of m that gets in: m's CA trusted, its client
// certificate shown, root's password given, as m needs. It is closed at
// the end of the test, if not before.
func (m *Member) NewClient(t testing.TB) *clientv3.Client {
	t.Helper()
	cfg := clientv3.Config{
		Endpoints: []string{m.Client}, DialTimeout: 10 * time.Second, Logger: zap.NewNop(),
		Username: m.user, Password: m.password,
	}
	if m.TLS != nil {
		info := transport.TLSInfo{TrustedCAFile: m.TLS.CA}
		if m.secure.ClientCertAuth {
			info.CertFile, info.KeyFile = m.TLS.Cert, m.TLS.Key
		}
		tc, err := info.ClientConfig()
		if err != nil {
			t.Fatal(err)
		}
		cfg.TLS = tc
	}
	cli, err := clientv3.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}
