// Package etcdtest starts real etcd members for tests: the embedded
// server, on 127.0.0.1 with free ports and a temporary data directory.
package etcdtest

import (
	"fmt"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
)

// Member is one running etcd member.
type Member struct {
	Name   string
	Client string // HOST:PORT of its client endpoint
	// TLS is the files of a member that serves its clients over TLS
	// (StartSecure), else nil.
	TLS *TLSFiles

	e              *embed.Etcd
	stopped        bool
	secure         Secure
	user, password string // what NewClient logs in with
}

// Stop stops the member (as a crash would, for the clients: the
// connections end). It is safe to call twice.
func (m *Member) Stop() {
	if !m.stopped {
		m.stopped = true
		m.e.Close()
	}
}

// Server is the embedded etcd, to wait on (Err) after Stop.
func (m *Member) Server() *embed.Etcd { return m.e }

func freePort(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// Start starts a one-member cluster, stopped at the end of the test.
func Start(t testing.TB) *Member {
	t.Helper()
	return Cluster(t, 1)[0]
}

// Cluster starts a cluster of n members, stopped at the end of the test.
func Cluster(t testing.TB, n int) []*Member {
	t.Helper()
	return cluster(t, n, nil)
}

// cluster is Cluster, with set, if not nil, changing each member's
// configuration before it starts (its client URL is http://HOST:PORT).
func cluster(t testing.TB, n int, set func(*embed.Config)) []*Member {
	t.Helper()
	var cfgs []*embed.Config
	var initial []string
	for i := 0; i < n; i++ {
		cfg := embed.NewConfig()
		cfg.Name = fmt.Sprintf("m%d", i)
		cfg.Dir = t.TempDir()
		cfg.LogLevel = "error"
		cfg.Logger = "zap"
		cfg.LogOutputs = []string{"/dev/null"}
		c, _ := url.Parse("http://" + freePort(t))
		p, _ := url.Parse("http://" + freePort(t))
		cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{*c}, []url.URL{*c}
		cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{*p}, []url.URL{*p}
		// Short elections so that a leader's death is over quickly.
		cfg.TickMs, cfg.ElectionMs = 50, 500
		if set != nil {
			set(cfg)
		}
		initial = append(initial, cfg.Name+"="+p.String())
		cfgs = append(cfgs, cfg)
	}
	var ms []*Member
	for _, cfg := range cfgs {
		cfg.InitialCluster = strings.Join(initial, ",")
		cfg.InitialClusterToken = "poolrun-test"
		e, err := embed.StartEtcd(cfg)
		if err != nil {
			for _, m := range ms {
				m.Stop()
			}
			t.Fatalf("starting etcd: %v", err)
		}
		m := &Member{Name: cfg.Name, Client: cfg.ListenClientUrls[0].Host, e: e}
		t.Cleanup(m.Stop)
		ms = append(ms, m)
	}
	for _, m := range ms {
		select {
		case <-m.e.Server.ReadyNotify():
		case err := <-m.e.Err():
			t.Fatalf("etcd %s: %v", m.Name, err)
		case <-time.After(60 * time.Second):
			t.Fatalf("etcd %s not ready after a minute", m.Name)
		}
	}
	return ms
}

// Endpoints is the members' client endpoints, comma-separated, as in an
// etcd:// URL.
func Endpoints(ms []*Member) string {
	var s []string
	for _, m := range ms {
		s = append(s, m.Client)
	}
	return strings.Join(s, ",")
}
