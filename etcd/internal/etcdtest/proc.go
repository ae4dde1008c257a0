package etcdtest

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
)

// envMember, set in a re-executed test binary, makes it an etcd member
// (ServeIfMember): its value is the member's procConfig.
const envMember = "ETCDTEST_MEMBER"

type procConfig struct {
	Name, Dir, Client, Peer, Initial string
}

// ServeIfMember runs this process as an etcd member and never returns if
// it was started as one by ProcCluster; a TestMain calls it first.
func ServeIfMember() {
	v := os.Getenv(envMember)
	if v == "" {
		return
	}
	var pc procConfig
	if err := json.Unmarshal([]byte(v), &pc); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	cfg := embed.NewConfig()
	cfg.Name, cfg.Dir = pc.Name, pc.Dir
	cfg.LogLevel, cfg.Logger, cfg.LogOutputs = "error", "zap", []string{"/dev/null"}
	c, _ := url.Parse("http://" + pc.Client)
	p, _ := url.Parse("http://" + pc.Peer)
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{*c}, []url.URL{*c}
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{*p}, []url.URL{*p}
	cfg.TickMs, cfg.ElectionMs = 50, 500
	cfg.InitialCluster, cfg.InitialClusterToken = pc.Initial, "poolrun-test"
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	<-e.Server.ReadyNotify()
	fmt.Println("ready")
	// Until killed, or until the test that started it is gone.
	go func() {
		for os.Getppid() != 1 {
			time.Sleep(200 * time.Millisecond)
		}
		os.Exit(0)
	}()
	select {}
}

// Proc is an etcd member running in a process of its own.
type Proc struct {
	Name   string
	Client string
	cmd    *exec.Cmd
}

// Kill SIGKILLs the member's process and waits for it. Safe to call twice.
func (p *Proc) Kill() {
	if p.cmd.ProcessState == nil {
		p.cmd.Process.Signal(syscall.SIGKILL)
		p.cmd.Wait()
	}
}

// Freeze SIGSTOPs the member: its connections stay open and nothing
// answers, as when its traffic is dropped. Thaw (or Kill) ends it; the
// test's cleanup kills the member either way.
func (p *Proc) Freeze() { p.cmd.Process.Signal(syscall.SIGSTOP) }

// Thaw SIGCONTs a frozen member.
func (p *Proc) Thaw() { p.cmd.Process.Signal(syscall.SIGCONT) }

// ProcCluster starts a cluster of n members, each a process of its own
// (the test binary re-executed: its TestMain calls ServeIfMember), killed
// at the end of the test.
func ProcCluster(t testing.TB, n int) []*Proc {
	t.Helper()
	var pcs []procConfig
	var initial []string
	for i := 0; i < n; i++ {
		pc := procConfig{Name: fmt.Sprintf("m%d", i), Dir: t.TempDir(), Client: freePort(t), Peer: freePort(t)}
		initial = append(initial, pc.Name+"=http://"+pc.Peer)
		pcs = append(pcs, pc)
	}
	var ps []*Proc
	var ready []*bufio.Reader
	for _, pc := range pcs {
		pc.Initial = strings.Join(initial, ",")
		b, _ := json.Marshal(pc)
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), envMember+"="+string(b))
		cmd.Stderr = os.Stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		p := &Proc{Name: pc.Name, Client: pc.Client, cmd: cmd}
		t.Cleanup(p.Kill)
		ps = append(ps, p)
		ready = append(ready, bufio.NewReader(out))
	}
	for i, r := range ready {
		if line, err := r.ReadString('\n'); err != nil || line != "ready\n" {
			t.Fatalf("etcd member %s did not start: %q %v", ps[i].Name, line, err)
		}
	}
	return ps
}

// ProcEndpoints is the members' client endpoints, comma-separated.
func ProcEndpoints(ps []*Proc) string {
	var s []string
	for _, p := range ps {
		s = append(s, p.Client)
	}
	return strings.Join(s, ",")
}
