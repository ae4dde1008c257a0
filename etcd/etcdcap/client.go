package etcdcap

import (
	"context"
	"crypto/tls"
	"fmt"
	"os"
	"strings"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
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
// _USER, _PASSWORD).
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
		var tc *tls.Config
		var err error
		if ca != "" || cert != "" {
			info := transport.TLSInfo{CertFile: cert, KeyFile: key, TrustedCAFile: ca}
			if tc, err = info.ClientConfig(); err != nil {
				return cfg, fmt.Errorf("etcdcap: the TLS files (%s, %s, %s): %w", envCACert, envCert, envKey, err)
			}
		} else {
			tc = &tls.Config{}
		}
		tc.InsecureSkipVerify = insecure
		cfg.TLS = tc
	}
	if u := os.Getenv(envUser); u != "" {
		user, pass, ok := strings.Cut(u, ":")
		if !ok {
			pass = os.Getenv(envPassword)
		}
		cfg.Username, cfg.Password = user, pass
	}
	return cfg, nil
}

// dial makes the client of t and checks, within OpenTimeout, that the
// cluster answers.
func dial(ctx context.Context, t Target) (*clientv3.Client, error) {
	cfg, err := clientConfig(t)
	if err != nil {
		return nil, err
	}
	cfg.Context = context.Background()
	cli, err := clientv3.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("etcdcap: cannot reach etcd at %s: %w", strings.Join(t.Endpoints, ","), err)
	}
	return cli, nil
}
