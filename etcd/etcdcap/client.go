package etcdcap

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"
)

// OpenTimeout bounds how long Open tries to reach the cluster before it
// gives up: an unreachable etcd is an error in seconds, not a hang.
const OpenTimeout = 5 * time.Second

// The environment an etcd client takes its TLS and auth from, as etcdctl
// does.
const (
	envCACert   = "ETCDCTL_CACERT"
	envCert     = "ETCDCTL_CERT"
	envKey      = "ETCDCTL_KEY"
	envInsecure = "ETCDCTL_INSECURE_SKIP_TLS_VERIFY"
	envUser     = "ETCDCTL_USER"     // USER or USER:PASSWORD
	envPassword = "ETCDCTL_PASSWORD" // the password, if ETCDCTL_USER has none
)

// clientConfig is the client of t, with TLS and auth from the
// environment (ETCDCTL_CACERT, _CERT, _KEY, _INSECURE_SKIP_TLS_VERIFY,
// _USER, _PASSWORD). A file that cannot be read or is not what it should
// be is an error here, naming its variable.
func clientConfig(t Target) (clientv3.Config, error) {
	cfg := clientv3.Config{
		Endpoints:   t.Endpoints,
		DialTimeout: OpenTimeout,
		// The client's own logging would write grpc's retries to the
		// jobs' terminal; errors come back through the calls instead.
		Logger: zap.NewNop(),
		// Keep the connection checked so a dead member is left for
		// another one quickly.
		DialKeepAliveTime:    2 * time.Second,
		DialKeepAliveTimeout: 2 * time.Second,
	}
	ca, cert, key := os.Getenv(envCACert), os.Getenv(envCert), os.Getenv(envKey)
	insecure := os.Getenv(envInsecure) == "true"
	if ca != "" || cert != "" || key != "" || insecure {
		if (cert == "") != (key == "") {
			return cfg, fmt.Errorf("etcdcap: %s and %s go together: set both or neither", envCert, envKey)
		}
		tc := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: insecure}
		if ca != "" {
			pool, err := caPool(ca)
			if err != nil {
				return cfg, fmt.Errorf("etcdcap: %s=%s: %w", envCACert, ca, err)
			}
			tc.RootCAs = pool
		}
		if cert != "" {
			c, err := tls.LoadX509KeyPair(cert, key)
			if err != nil {
				return cfg, fmt.Errorf("etcdcap: %s=%s and %s=%s: %w", envCert, cert, envKey, key, err)
			}
			tc.Certificates = []tls.Certificate{c}
		}
		cfg.TLS = tc
	}
	if u := os.Getenv(envUser); u != "" {
		user, pass, ok := strings.Cut(u, ":")
		if !ok {
			pass = os.Getenv(envPassword)
		}
		if user == "" {
			return cfg, fmt.Errorf("etcdcap: %s has no user name: want USER or USER:PASSWORD", envUser)
		}
		if pass == "" {
			// etcdctl would ask for it; a run cannot.
			return cfg, fmt.Errorf("etcdcap: %s=%s has no password: set %s, or %s=%s:PASSWORD", envUser, user, envPassword, envUser, user)
		}
		cfg.Username, cfg.Password = user, pass
	}
	return cfg, nil
}

// caPool is the certificates of the PEM file path.
func caPool(path string) (*x509.CertPool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	n := 0
	for rest := b; ; {
		var blk *pem.Block
		if blk, rest = pem.Decode(rest); blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificate %d: %w", n+1, err)
		}
		pool.AddCert(c)
		n++
	}
	if n == 0 {
		return nil, errors.New("no PEM certificate in it (want the CA's certificate, -----BEGIN CERTIFICATE-----)")
	}
	return pool, nil
}

// dial makes the client of t. Its connections are watched while it
// starts (see diag): sctx, ctx until done is called, ends with a
// *tlsError as its cause when every endpoint has failed for a reason
// that waiting would not mend, and the client's calls made within sctx
// end then too. Call done when the client has started or failed to.
func dial(ctx context.Context, t Target) (cli *clientv3.Client, sctx context.Context, done func(), err error) {
	cfg, err := clientConfig(t)
	if err != nil {
		return nil, nil, nil, err
	}
	sctx, cancel := context.WithCancelCause(ctx)
	// The client's context ends only with a definite failure at its
	// start (New's authentication waits on it), never after.
	cctx, ccancel := context.WithCancel(context.Background())
	d := newDiag(len(t.Endpoints), func(err error) { cancel(err); ccancel() })
	done = func() { d.disarm(); cancel(nil) }
	cfg.Context = cctx
	cfg.DialOptions = append(cfg.DialOptions, grpc.WithTransportCredentials(newWatchCreds(cfg.TLS, d)))
	cli, err = clientv3.New(cfg)
	if err != nil {
		done()
		ccancel()
		var te *tlsError
		if errors.As(context.Cause(sctx), &te) {
			err = te
		}
		if errors.Is(err, context.DeadlineExceeded) {
			return nil, nil, nil, unanswered(t, "authenticating as "+strconv.Quote(cfg.Username), err)
		}
		return nil, nil, nil, explain(t, "connecting", err)
	}
	return cli, sctx, done, nil
}

// unanswered is the error of a start that etcd did not answer within
// OpenTimeout, what was the call that waited.
func unanswered(t Target, what string, err error) error {
	return fmt.Errorf("etcdcap: %s: etcd at %s did not answer within %v (%s: %w): check that etcd runs there, and %s/_CERT/_KEY if it wants TLS", t, strings.Join(t.Endpoints, ","), OpenTimeout, what, err, envCACert)
}
