package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/poolrun/poolrun/etcd/internal/etcdtest"
	"github.com/poolrun/poolrun/pool"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// errBound is how long a refused start may take: etcd refusing a
// certificate or a password is an answer, not silence, so the run must
// not wait for the time an unreachable etcd gets (etcdcap.OpenTimeout,
// 5s); the bound leaves room for a loaded machine.
const errBound = 4 * time.Second

// secureRun is a run of three jobs on the cap etcd://ENDPOINT/NAME -j 2,
// with env added to the environment.
type secureRun struct {
	out, errs string
	code      int
	ran       int // jobs that ran
	took      time.Duration
}

func runSecure(t *testing.T, env []string, endpoint, name string) secureRun {
	t.Helper()
	dir := t.TempDir()
	start := time.Now()
	out, errs, code := result(t, poolrun(env, "--sem", "etcd://"+endpoint+"/"+name, "-j", "2", "touch "+dir+"/ran.{}", ":::", "a", "b", "c"))
	r := secureRun{out: out, errs: errs, code: code, took: time.Since(start)}
	ents, _ := os.ReadDir(dir)
	r.ran = len(ents)
	t.Logf("%s: %v: status %d: %s", name, r.took.Round(time.Millisecond), code, strings.TrimSpace(errs))
	return r
}

// ok checks that the run ran its three jobs, and left nothing in etcd.
func (r secureRun) ok(t *testing.T, what string, cli *clientv3.Client) {
	t.Helper()
	if r.code != 0 || r.ran != 3 || r.errs != "" {
		t.Errorf("%s: status %d, %d jobs ran, stderr %q: want 0, 3, nothing", what, r.code, r.ran, r.errs)
	}
	if k := secureKeys(t, cli); len(k) > 0 {
		t.Errorf("%s: left in etcd: %v", what, k)
	}
}

// refused checks that the run failed at start, soon, with exit 255 and
// one line on stderr holding every one of want and none of never, and
// ran no job.
func (r secureRun) refused(t *testing.T, what string, want []string, never ...string) {
	t.Helper()
	if r.code != 255 || r.ran != 0 || r.out != "" || !strings.HasPrefix(r.errs, "poolrun: --sem etcd://") || strings.Contains(r.errs, "etcdcap") || strings.Count(r.errs, "\n") != 1 {
		t.Errorf("%s: status %d, %d jobs ran, stdout %q, stderr %q: want 255, no job, one line", what, r.code, r.ran, r.out, r.errs)
	}
	for _, w := range want {
		if !strings.Contains(r.errs, w) {
			t.Errorf("%s: stderr %q: want it to say %q", what, r.errs, w)
		}
	}
	for _, n := range never {
		if strings.Contains(r.errs, n) {
			t.Errorf("%s: stderr %q says %q", what, r.errs, n)
		}
	}
	if r.took > errBound {
		t.Errorf("%s: refused after %v: want within %v", what, r.took.Round(time.Millisecond), errBound)
	}
}

func secureKeys(t *testing.T, cli *clientv3.Client) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r, err := cli.Get(ctx, "/poolrun/", clientv3.WithPrefix(), clientv3.WithKeysOnly())
	if err != nil {
		t.Fatal(err)
	}
	var ks []string
	for _, kv := range r.Kvs {
		ks = append(ks, string(kv.Key))
	}
	return ks
}

// TestTLS: an etcd serving its clients over TLS: with ETCDCTL_CACERT (or
// ETCDCTL_INSECURE_SKIP_TLS_VERIFY=true) the run runs its jobs; without,
// or with a CA file that does not exist or is not PEM, it is refused at
// once, saying so.
func TestTLS(t *testing.T) {
	m := etcdtest.StartSecure(t, etcdtest.Secure{TLS: true})
	cli := m.NewClient(t)
	runSecure(t, []string{"ETCDCTL_CACERT=" + m.TLS.CA}, m.Client, "tls").ok(t, "ETCDCTL_CACERT", cli)
	runSecure(t, []string{"ETCDCTL_INSECURE_SKIP_TLS_VERIFY=true"}, m.Client, "tls").ok(t, "ETCDCTL_INSECURE_SKIP_TLS_VERIFY", cli)

	runSecure(t, nil, m.Client, "tls").refused(t, "no CA", []string{"certificate", "not trusted", "ETCDCTL_CACERT"})
	notPEM := t.TempDir() + "/notpem"
	os.WriteFile(notPEM, []byte("not a certificate\n"), 0o644)
	missing := t.TempDir() + "/missing.pem"
	runSecure(t, []string{"ETCDCTL_CACERT=" + missing}, m.Client, "tls").refused(t, "missing CA file", []string{"ETCDCTL_CACERT", missing, "no such file"})
	runSecure(t, []string{"ETCDCTL_CACERT=" + notPEM}, m.Client, "tls").refused(t, "CA not PEM", []string{"ETCDCTL_CACERT", notPEM, "PEM"})
	// Another CA than the server's: not trusted either.
	other := etcdtest.NewTLSFiles(t)
	runSecure(t, []string{"ETCDCTL_CACERT=" + other.CA}, m.Client, "tls").refused(t, "another CA", []string{"not trusted", "ETCDCTL_CACERT"})
	// TLS asked of a plain etcd: said, not a timeout.
	plain := etcdtest.Start(t)
	runSecure(t, []string{"ETCDCTL_CACERT=" + m.TLS.CA}, plain.Client, "tls").refused(t, "TLS to a plain etcd", []string{"TLS"})
}

// TestClientCertAuth: an etcd that wants a client certificate:
// ETCDCTL_CERT and ETCDCTL_KEY give it; without them, or with one only,
// or with a key that is not the certificate's, the run is refused, saying
// so.
func TestClientCertAuth(t *testing.T) {
	m := etcdtest.StartSecure(t, etcdtest.Secure{ClientCertAuth: true})
	cli := m.NewClient(t)
	ca := "ETCDCTL_CACERT=" + m.TLS.CA
	runSecure(t, []string{ca, "ETCDCTL_CERT=" + m.TLS.Cert, "ETCDCTL_KEY=" + m.TLS.Key}, m.Client, "mtls").ok(t, "ETCDCTL_CERT and _KEY", cli)

	runSecure(t, []string{ca}, m.Client, "mtls").refused(t, "no client certificate", []string{"client certificate", "ETCDCTL_CERT", "ETCDCTL_KEY"})
	runSecure(t, []string{ca, "ETCDCTL_CERT=" + m.TLS.Cert}, m.Client, "mtls").refused(t, "no key", []string{"ETCDCTL_CERT", "ETCDCTL_KEY"})
	runSecure(t, []string{ca, "ETCDCTL_CERT=" + m.TLS.Cert, "ETCDCTL_KEY=" + m.TLS.ServerKey}, m.Client, "mtls").refused(t, "another key", []string{"ETCDCTL_CERT", "ETCDCTL_KEY"})
	// A client certificate of another CA: refused by the server.
	other := etcdtest.NewTLSFiles(t)
	runSecure(t, []string{ca, "ETCDCTL_CERT=" + other.Cert, "ETCDCTL_KEY=" + other.Key}, m.Client, "mtls").refused(t, "client certificate of another CA", []string{"client certificate", "ETCDCTL_CERT"})
}

// TestAuth: an etcd with auth enabled: ETCDCTL_USER=root:PASS, or
// ETCDCTL_USER=root with ETCDCTL_PASSWORD, gets in; a wrong password or
// none is refused, saying so, never showing the password.
func TestAuth(t *testing.T) {
	const pass = "pw-7Zq!x"
	m := etcdtest.StartSecure(t, etcdtest.Secure{RootPassword: pass, Users: map[string]string{"guest": "guest-pw"}})
	cli := m.NewClient(t)
	runSecure(t, []string{"ETCDCTL_USER=root:" + pass}, m.Client, "auth").ok(t, "ETCDCTL_USER=root:PASS", cli)
	runSecure(t, []string{"ETCDCTL_USER=root", "ETCDCTL_PASSWORD=" + pass}, m.Client, "auth").ok(t, "ETCDCTL_USER and ETCDCTL_PASSWORD", cli)

	const wrong = "not-the-pw"
	refusedCreds := []string{"refused", "ETCDCTL_USER", "ETCDCTL_PASSWORD"}
	runSecure(t, []string{"ETCDCTL_USER=root:" + wrong}, m.Client, "auth").refused(t, "wrong password", refusedCreds, wrong)
	runSecure(t, []string{"ETCDCTL_USER=root", "ETCDCTL_PASSWORD=" + wrong}, m.Client, "auth").refused(t, "wrong ETCDCTL_PASSWORD", refusedCreds, wrong)
	runSecure(t, []string{"ETCDCTL_USER=nobody:" + pass}, m.Client, "auth").refused(t, "no such user", refusedCreds, pass)
	runSecure(t, []string{"ETCDCTL_USER=root"}, m.Client, "auth").refused(t, "user without a password", []string{"no password", "ETCDCTL_PASSWORD"})
	runSecure(t, nil, m.Client, "auth").refused(t, "no credentials", []string{"auth enabled", "wants a user", "ETCDCTL_USER"})
	// A user who gets in, and may not touch the cap's keys.
	runSecure(t, []string{"ETCDCTL_USER=guest:guest-pw"}, m.Client, "auth").refused(t, "user without permission", []string{`user "guest"`, "may not use", "permission denied", "/poolrun/"}, "guest-pw")
	// Credentials in the URL: refused, not shown.
	r := runSecure(t, nil, "root:"+pass+"@"+m.Client, "auth")
	r.refused(t, "credentials in the URL", []string{"ETCDCTL_USER", "ETCDCTL_PASSWORD"}, pass, "root:")
	start := time.Now()
	out, errs, code := result(t, poolrun(nil, "sem", "ls", "etcd://root:"+pass+"@"+m.Client+"/"))
	if code != 255 || out != "" || strings.Count(errs, "\n") != 1 || !strings.Contains(errs, "ETCDCTL_USER") || strings.Contains(errs, pass) || time.Since(start) > errBound {
		t.Errorf("sem ls with credentials in the URL: status %d, stdout %q, stderr %q", code, out, errs)
	}
}

// TestAuthTokenExpires: a run that outlives its auth token (etcd's
// --auth-token-ttl, 1s here, shorter than the lease's renewal period of
// 2s) goes on: the client gets a new token. Two one-slot jobs of 3s each:
// the second takes the slot, and the lease is renewed, with expired
// tokens.
func TestAuthTokenExpires(t *testing.T) {
	const pass = "tok-pw"
	m := etcdtest.StartSecure(t, etcdtest.Secure{RootPassword: pass, TokenTTL: time.Second})
	cli := m.NewClient(t)
	dir := t.TempDir()
	out, errs, code := result(t, poolrun([]string{"ETCDCTL_USER=root:" + pass}, "--sem", "etcd://"+m.Client+"/token?ttl=10s", "-j", "1", "sleep 3; touch "+dir+"/ran.{}", ":::", "a", "b"))
	ran, _ := os.ReadDir(dir)
	if code != 0 || len(ran) != 2 || errs != "" || out != "" {
		t.Errorf("status %d, %d jobs ran, stdout %q, stderr %q: want 0, 2, nothing", code, len(ran), out, errs)
	}
	if k := secureKeys(t, cli); len(k) > 0 {
		t.Errorf("left in etcd: %v", k)
	}
}

// TestSecureNested: a poolrun in a job of a one-slot cap on an etcd with
// TLS and auth runs on the job's slot, with the environment the job
// inherits.
func TestSecureNested(t *testing.T) {
	const pass = "nest-pw"
	m := etcdtest.StartSecure(t, etcdtest.Secure{TLS: true, RootPassword: pass})
	env := []string{"ETCDCTL_CACERT=" + m.TLS.CA, "ETCDCTL_USER=root", "ETCDCTL_PASSWORD=" + pass}
	inner := filepath.Join(bin, "poolrun") + " -k echo in ::: a b"
	out, errs, code := result(t, poolrun(env, "--sem", "etcd://"+m.Client+"/nested", "-j", "1", "-k", inner+" {}", ":::", "x", "y"))
	if code != 0 || out != "in a\nin b\nin x\nin a\nin b\nin y\n" || errs != "" {
		t.Errorf("nested: status %d, stdout %q, stderr %q", code, out, errs)
	}
	if k := secureKeys(t, m.NewClient(t)); len(k) > 0 {
		t.Errorf("left in etcd: %v", k)
	}
}

// TestSecureSemLs: `poolrun sem ls` on an etcd with TLS and auth, with
// the run's environment, lists the cap its holder holds; without the
// credentials, one line says why not.
func TestSecureSemLs(t *testing.T) {
	const pass = "ls-pw-42"
	m := etcdtest.StartSecure(t, etcdtest.Secure{TLS: true, RootPassword: pass})
	env := []string{"ETCDCTL_CACERT=" + m.TLS.CA, "ETCDCTL_USER=root", "ETCDCTL_PASSWORD=" + pass}
	dir := t.TempDir()
	hold := poolrun(env, "--sem", "etcd://"+m.Client+"/guarded", "-j", "2", "--no-jobserver", "touch "+dir+"/held; sleep 30", ":::", "1")
	if err := hold.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { hold.Process.Signal(syscall.SIGTERM); hold.Wait() }()
	waitFor(t, "the job", func() bool { _, err := os.Stat(dir + "/held"); return err == nil })

	out, errs, code := result(t, poolrun(env, "sem", "ls", "etcd://"+m.Client+"/"))
	host, _ := os.Hostname()
	if code != 0 || !strings.Contains(out, "guarded") || !strings.Contains(out, host+":") || !strings.Contains(out, " 1/0") || errs != "" {
		t.Errorf("sem ls: status %d, stdout %q, stderr %q", code, out, errs)
	}
	for _, c := range []struct {
		name string
		env  []string
		want []string
	}{
		{"no CA", env[1:], []string{"not trusted", "ETCDCTL_CACERT"}},
		{"wrong password", []string{env[0], "ETCDCTL_USER=root:nope"}, []string{"refused", "ETCDCTL_USER"}},
		{"no credentials", env[:1], []string{"auth enabled", "ETCDCTL_USER"}},
	} {
		start := time.Now()
		out, errs, code := result(t, poolrun(c.env, "sem", "ls", "etcd://"+m.Client+"/"))
		took := time.Since(start)
		t.Logf("sem ls, %s: %v: %s", c.name, took.Round(time.Millisecond), strings.TrimSpace(errs))
		if code != 255 || out != "" || !strings.HasPrefix(errs, "poolrun: sem ls etcd://") || strings.Contains(errs, "etcdcap") || strings.Count(errs, "\n") != 1 || took > errBound {
			t.Errorf("sem ls, %s: status %d after %v, stdout %q, stderr %q: want 255 and one line, soon", c.name, code, took, out, errs)
		}
		for _, w := range c.want {
			if !strings.Contains(errs, w) {
				t.Errorf("sem ls, %s: stderr %q: want it to say %q", c.name, errs, w)
			}
		}
	}
}

// TestPoolSecure: pool.SharedLimit on an etcd with TLS and auth, with
// ETCDCTL_* in the pool's environment: a task runs on a slot; with a
// wrong password New fails at once, saying the credentials were refused,
// not showing the password.
func TestPoolSecure(t *testing.T) {
	const pass = "pool-pw"
	m := etcdtest.StartSecure(t, etcdtest.Secure{TLS: true, RootPassword: pass})
	helperEnv(t)
	t.Setenv("ETCDCTL_CACERT", m.TLS.CA)
	t.Setenv("ETCDCTL_USER", "root:"+pass)
	url := "etcd://" + m.Client + "/pooled"
	p, err := pool.New(pool.Workers(1), pool.SharedLimit(url, 1))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	path := filepath.Join(t.TempDir(), "pid")
	f := pidTask.Submit(ctx, p, path)
	waitFor(t, "the task on its slot", func() bool { _, err := os.Stat(path); return err == nil })
	if k := secureKeys(t, m.NewClient(t)); len(k) == 0 {
		t.Error("no keys in etcd while the task holds its slot")
	}
	cancel()
	f.Get()
	p.Close()

	const wrong = "wrong-pool-pw"
	t.Setenv("ETCDCTL_USER", "root:"+wrong)
	start := time.Now()
	_, err = pool.New(pool.Workers(1), pool.SharedLimit(url, 1))
	took := time.Since(start)
	if err == nil || !strings.HasPrefix(err.Error(), "pool: shared limit: ") || !strings.Contains(err.Error(), "refused the credentials") || strings.Contains(err.Error(), wrong) || took > errBound {
		t.Errorf("New with a wrong password: %v after %v: want the credentials refused, soon", err, took)
	}
}

// TestUnreachableWithCredentials: credentials make the client
// authenticate first; an etcd that does not answer is still said as
// such, within the start's bound, no job run.
func TestUnreachableWithCredentials(t *testing.T) {
	for _, env := range [][]string{{"ETCDCTL_USER=root:pw"}, {"ETCDCTL_USER=root:pw", "ETCDCTL_INSECURE_SKIP_TLS_VERIFY=true"}} {
		r := runSecure(t, env, "127.0.0.1:1", "gone")
		if r.code != 255 || r.ran != 0 || strings.Count(r.errs, "\n") != 1 || !strings.Contains(r.errs, "did not answer within 5s") || strings.Contains(r.errs, "pw") || r.took > time.Minute {
			t.Errorf("%v: status %d after %v, %d jobs ran, stderr %q: want 255, one line saying etcd did not answer", env, r.code, r.took, r.ran, r.errs)
		}
	}
	_, errs, code := result(t, poolrun([]string{"ETCDCTL_USER=root:pw"}, "sem", "ls", "etcd://127.0.0.1:1/"))
	if code != 255 || !strings.HasPrefix(errs, "poolrun: sem ls etcd://127.0.0.1:1/: ") || !strings.Contains(errs, "did not answer") {
		t.Errorf("sem ls: status %d, stderr %q", code, errs)
	}
}
