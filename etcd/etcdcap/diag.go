package etcdcap

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
)

// A TLS mismatch (a certificate not trusted, a client certificate
// refused, TLS on one side only) is, to the etcd client, a connection
// that fails and is tried again until the call's deadline: Open would
// wait OpenTimeout and say only "context deadline exceeded". The client's
// connections go through watchCreds, which see the handshakes and the
// first read, and, while the client starts (armed), end its start with
// what was wrong once every endpoint has failed so.

// tlsError is a reason etcd cannot be used that trying again would not
// mend, found on a connection: what was wrong, the error that showed it,
// and what to do.
type tlsError struct {
	msg string
	err error
	do  string
}

func (e *tlsError) Error() string { return e.msg + " (" + e.err.Error() + "): " + e.do }
func (e *tlsError) Unwrap() error { return e.err }

// What to do, for each kind of tlsError.
var (
	doCACert     = "set " + envCACert + " to the file of the CA that signed it (or " + envInsecure + "=true, which checks nothing)"
	doClientCert = "set " + envCert + " and " + envKey + " to a certificate and key signed by a CA it trusts"
	doOtherCert  = envCert + " must be signed by a CA the server trusts, and " + envKey + " be its key"
	doNoTLS      = "unset " + envCACert + ", " + envCert + ", " + envKey + " and " + envInsecure
)

// diag collects the definite failures of a starting client's
// connections: when every endpoint has failed so, it cancels the start
// with the first.
type diag struct {
	n      int // endpoints
	cancel context.CancelCauseFunc
	armed  atomic.Bool

	mu     sync.Mutex
	failed map[string]bool // remote addresses
	first  error
}

func newDiag(endpoints int, cancel context.CancelCauseFunc) *diag {
	d := &diag{n: endpoints, cancel: cancel, failed: map[string]bool{}}
	d.armed.Store(true)
	return d
}

// disarm ends the watch: the client has started, or failed to.
func (d *diag) disarm() {
	d.mu.Lock()
	d.armed.Store(false)
	d.mu.Unlock()
}

func (d *diag) fail(addr string, err *tlsError) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.armed.Load() {
		return
	}
	if d.first == nil {
		d.first = err
	}
	d.failed[addr] = true
	if len(d.failed) >= d.n {
		d.cancel(d.first)
	}
}

// watchCreds are the client's transport credentials (TLS, or none),
// reporting definite failures to d.
type watchCreds struct {
	credentials.TransportCredentials
	tls *tls.Config // nil without TLS
	d   *diag
}

func newWatchCreds(tc *tls.Config, d *diag) credentials.TransportCredentials {
	w := &watchCreds{tls: tc, d: d}
	if tc != nil {
		w.TransportCredentials = credentials.NewTLS(tc)
	} else {
		w.TransportCredentials = insecure.NewCredentials()
	}
	return w
}

func (w *watchCreds) Clone() credentials.TransportCredentials {
	return &watchCreds{TransportCredentials: w.TransportCredentials.Clone(), tls: w.tls, d: w.d}
}

func (w *watchCreds) ClientHandshake(ctx context.Context, authority string, raw net.Conn) (net.Conn, credentials.AuthInfo, error) {
	addr := raw.RemoteAddr().String()
	conn, info, err := w.TransportCredentials.ClientHandshake(ctx, authority, raw)
	if err != nil {
		if e := w.handshakeError(err); e != nil {
			w.d.fail(addr, e)
		} else if errors.Is(err, io.EOF) && w.d.armed.Load() && servesPlain(addr) {
			w.d.fail(addr, &tlsError{"does not serve TLS", errors.New("a TLS connection was closed; one without TLS was taken"), doNoTLS})
		}
		return nil, nil, err
	}
	if !w.d.armed.Load() {
		return conn, info, nil
	}
	return &watchConn{Conn: conn, w: w, addr: addr}, info, nil
}

// handshakeError is the definite reason of a failed TLS handshake, or nil.
func (w *watchCreds) handshakeError(err error) *tlsError {
	var ve *tls.CertificateVerificationError
	var ua x509.UnknownAuthorityError
	var he x509.HostnameError
	var ie x509.CertificateInvalidError
	var rh tls.RecordHeaderError
	switch {
	case errors.As(err, &ua):
		by := ""
		if ca := os.Getenv(envCACert); ca != "" {
			by = " by " + envCACert + "=" + ca
		}
		return &tlsError{"its certificate is not trusted" + by, err, doCACert}
	case errors.As(err, &he):
		return &tlsError{"its certificate is not for " + he.Host, err, "name the member as its certificate does in the URL, or give it a certificate for that name"}
	case errors.As(err, &ie), errors.As(err, &ve):
		return &tlsError{"its certificate is not valid", err, "renew it, or check this machine's clock"}
	case errors.As(err, &rh):
		return &tlsError{"does not serve TLS", err, doNoTLS}
	}
	return w.remoteAlert(err)
}

// remoteAlert is the definite reason of a TLS alert from the server (in
// the handshake with TLS 1.2, at the first read with TLS 1.3), or nil.
func (w *watchCreds) remoteAlert(err error) *tlsError {
	var oe *net.OpError
	if !errors.As(err, &oe) || oe.Op != "remote error" {
		return nil
	}
	if os.Getenv(envCert) == "" {
		return &tlsError{"wants a client certificate", err, doClientCert}
	}
	return &tlsError{"refused the client certificate " + envCert + "=" + os.Getenv(envCert), err, doOtherCert}
}

// watchConn watches the first read of a connection: a TLS alert there is
// the server refusing the client's certificate; without TLS, the server
// closing the connection before it says anything may be a TLS server
// (checked).
type watchConn struct {
	net.Conn
	w    *watchCreds
	addr string
	read atomic.Bool
}

func (c *watchConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if c.read.Swap(true) || !c.w.d.armed.Load() {
		return n, err
	}
	switch {
	case n > 0 || err == nil:
	case c.w.tls != nil:
		if e := c.w.remoteAlert(err); e != nil {
			c.w.d.fail(c.addr, e)
		}
	case errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || isReset(err):
		if e := servesTLS(c.addr); e != nil {
			c.w.d.fail(c.addr, e)
		}
	}
	return n, err
}

func isReset(err error) bool {
	var oe *net.OpError
	return errors.As(err, &oe) && oe.Op == "read"
}

// servesTLS is, if a TLS handshake succeeds at addr, what a client
// without TLS is to be told: the server serves TLS, and whether this
// machine's CAs trust its certificate. Else nil.
func servesTLS(addr string) *tlsError {
	d := &net.Dialer{Timeout: time.Second}
	conn, err := tls.DialWithDialer(d, "tcp", addr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		return nil
	}
	defer conn.Close()
	certs := conn.ConnectionState().PeerCertificates
	host, _, _ := net.SplitHostPort(addr)
	opts := x509.VerifyOptions{DNSName: host, Intermediates: x509.NewCertPool()}
	for _, c := range certs[1:] {
		opts.Intermediates.AddCert(c)
	}
	if _, err := certs[0].Verify(opts); err != nil {
		return &tlsError{"serves TLS, with a certificate not trusted here", err, "set " + envCACert + " to the file of the CA that signed it"}
	}
	return &tlsError{"serves TLS", errors.New("a connection without TLS was closed; one with TLS was taken"), "set " + envCACert + " (to this machine's CA bundle: its certificate is trusted here)"}
}

// servesPlain reports whether a server at addr answers an HTTP/2
// connection without TLS, as etcd without TLS does: with a SETTINGS
// frame.
func servesPlain(addr string) bool {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(time.Second))
	// The client preface and an empty SETTINGS frame.
	if _, err := io.WriteString(conn, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00"); err != nil {
		return false
	}
	var h [9]byte
	_, err = io.ReadFull(conn, h[:])
	return err == nil && h[3] == 0x4
}

// explain is err, from a call that started the client or was its first,
// in words for a person: what was refused, and what to set.
func explain(t Target, what string, err error) error {
	at := "etcd at " + strings.Join(t.Endpoints, ",")
	var te *tlsError
	switch {
	case errors.As(err, &te):
		return fmt.Errorf("etcdcap: %s: %s: %w", t, at, err)
	case errors.Is(err, rpctypes.ErrAuthFailed):
		u, _, _ := strings.Cut(os.Getenv(envUser), ":")
		return fmt.Errorf("etcdcap: %s: %s refused the credentials of %s and %s (user %q): %w", t, at, envUser, envPassword, u, err)
	case errors.Is(err, rpctypes.ErrUserEmpty):
		return fmt.Errorf("etcdcap: %s: %s has auth enabled and wants a user: set %s=USER:PASSWORD, or %s and %s (%w)", t, at, envUser, envUser, envPassword, err)
	case errors.Is(err, rpctypes.ErrPermissionDenied):
		u, _, _ := strings.Cut(os.Getenv(envUser), ":")
		return fmt.Errorf("etcdcap: %s: %s: user %q (%s) may not use the caps' keys (%s: %w): give it a role with readwrite on the prefix /poolrun/", t, at, u, envUser, what, err)
	}
	return fmt.Errorf("etcdcap: %s: %s: %w", t, what, err)
}
