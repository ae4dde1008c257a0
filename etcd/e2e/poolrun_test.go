package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/poolrun/poolrun/etcd/internal/etcdtest"
	clientv3 "go.etcd.io/etcd/client/v3"
)

func keys(t *testing.T, endpoint string) []string {
	t.Helper()
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{endpoint}, DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	return secureKeys(t, cli)
}

// countJob is a job that, while it runs, has a file in dir/run, counts the
// files there (more than max: dir/over gets the count) and leaves a mark
// in dir/ran.
func countJob(dir string, max int) string {
	return `f=` + dir + `/run/$$; : > $f; n=$(ls ` + dir + `/run | wc -l); [ $n -le ` + strconv.Itoa(max) + ` ] || echo $n >> ` + dir + `/over; : > ` + dir + `/ran/{}; sleep 0.02; rm $f`
}

// startFourRuns starts four poolruns (standing for four machines) of 15
// countJob jobs each on --sem url -j 3.
func startFourRuns(t *testing.T, dir, url string) []*exec.Cmd {
	t.Helper()
	var cmds []*exec.Cmd
	for i := 0; i < 4; i++ {
		args := []string{"--sem", url, "-j", "3", countJob(dir, 3), ":::"}
		for j := 0; j < 15; j++ {
			args = append(args, strconv.Itoa(i)+"-"+strconv.Itoa(j))
		}
		cmd := poolrun(nil, args...)
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, cmd)
	}
	return cmds
}

// checkFourRuns waits for the runs of startFourRuns: each must succeed,
// never more than 3 jobs at once, all 60 run.
func checkFourRuns(t *testing.T, dir string, cmds []*exec.Cmd) {
	t.Helper()
	for _, c := range cmds {
		if err := c.Wait(); err != nil {
			t.Errorf("a poolrun: %v", err)
		}
	}
	if b, err := os.ReadFile(dir + "/over"); err == nil {
		t.Errorf("more than 3 jobs at once: %q", b)
	}
	if ran, _ := os.ReadDir(dir + "/ran"); len(ran) != 60 {
		t.Errorf("%d jobs ran, want 60", len(ran))
	}
}

// TestFourPoolrunsShareCap: four poolruns (standing for four machines)
// share --sem etcd://…/NAME -j 3: at most 3 jobs at once across them, all
// run, nothing left in etcd.
func TestFourPoolrunsShareCap(t *testing.T) {
	m := etcdtest.Start(t)
	dir := t.TempDir()
	os.Mkdir(dir+"/run", 0o755)
	os.Mkdir(dir+"/ran", 0o755)
	url := "etcd://" + m.Client + "/four"
	cmds := startFourRuns(t, dir, url)
	checkFourRuns(t, dir, cmds)
	if k := keys(t, m.Client); len(k) > 0 {
		t.Errorf("left in etcd: %v", k)
	}
}

// TestNestedPoolrunOnJobSlot: a poolrun in a job of a one-slot etcd cap
// runs on the job's slot (else it would wait for ever for the slot its
// own job holds).
func TestNestedPoolrunOnJobSlot(t *testing.T) {
	m := etcdtest.Start(t)
	url := "etcd://" + m.Client + "/nested"
	inner := filepath.Join(bin, "poolrun") + " -k echo in ::: a b"
	out, errs, code := result(t, poolrun(nil, "--sem", url, "-j", "1", "-k", inner+" {}", ":::", "x", "y"))
	if code != 0 || out != "in a\nin b\nin x\nin a\nin b\nin y\n" || errs != "" {
		t.Errorf("nested: status %d, stdout %q, stderr %q", code, out, errs)
	}
	if k := keys(t, m.Client); len(k) > 0 {
		t.Errorf("left in etcd: %v", k)
	}
}

// TestSizeMismatchTold: a run with another -j is told the cap's size.
func TestSizeMismatchTold(t *testing.T) {
	m := etcdtest.Start(t)
	dir := t.TempDir()
	url := "etcd://" + m.Client + "/size"
	// --no-jobserver: a job's jobserver may hold a unit it offers to a
	// make in the job, which would make the count of held slots vary.
	hold := poolrun(nil, "--sem", url, "-j", "2", "--no-jobserver", "touch "+dir+"/held; sleep 30", ":::", "1")
	if err := hold.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { hold.Process.Signal(syscall.SIGTERM); hold.Wait() }()
	waitFor(t, "the first run's job", func() bool { _, err := os.Stat(dir + "/held"); return err == nil })
	_, errs, code := result(t, poolrun(nil, "--sem", url, "-j", "5", "true", ":::", "1"))
	if code != 0 || !strings.Contains(errs, "in use with 2 slots") || strings.Count(errs, "\n") != 1 {
		t.Errorf("status %d, stderr %q: want one line telling the size 2", code, errs)
	}
}

// TestBadInput: a bad URL, a bad name, an unreachable etcd, a missing
// helper: exit 255, one line saying what is wrong, no job run.
func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	job := "touch " + dir + "/ran"
	lonely := t.TempDir() // poolrun without its helper
	exe, _ := os.ReadFile(filepath.Join(bin, "poolrun"))
	os.WriteFile(lonely+"/poolrun", exe, 0o755)
	for _, c := range []struct {
		name string
		cmd  *exec.Cmd
		want string
	}{
		{"no name", poolrun(nil, "--sem", "etcd://127.0.0.1:2379", job, ":::", "1"), "no cap name"},
		{"bad name", poolrun(nil, "--sem", "etcd://127.0.0.1:2379/a+b", job, ":::", "1"), "not allowed"},
		{"bad port", poolrun(nil, "--sem", "etcd://127.0.0.1:x/a", job, ":::", "1"), "bad port"},
		{"bad ttl", poolrun(nil, "--sem", "etcd://127.0.0.1:2379/a?ttl=1s", job, ":::", "1"), "ttl=1s"},
		{"grace too long", poolrun(nil, "--grace", "3s", "--sem", "etcd://127.0.0.1:1/a?ttl=2s", job, ":::", "1"), "shorter grace"},
		{"unreachable", poolrun(nil, "--sem", "etcd://127.0.0.1:1/a", job, ":::", "1"), "did not answer"},
		{"no helper", exec.Command(lonely+"/poolrun", "--sem", "etcd://127.0.0.1:1/a", job, ":::", "1"), "go install github.com/poolrun/poolrun/etcd/cmd/poolrun-etcd"},
	} {
		if c.name == "no helper" {
			c.cmd.Env = append(os.Environ(), "PATH=/usr/bin:/bin")
		}
		start := time.Now()
		out, errs, code := result(t, c.cmd)
		t.Logf("%s: %v: %s", c.name, time.Since(start).Round(time.Millisecond), strings.TrimSpace(errs))
		if code != 255 || out != "" || !strings.HasPrefix(errs, "poolrun: ") || strings.Count(errs, "\n") != 1 || !strings.Contains(errs, c.want) {
			t.Errorf("%s: status %d, stdout %q, stderr %q: want 255 and one line with %q", c.name, code, out, errs, c.want)
		}
	}
	if _, err := os.Stat(dir + "/ran"); err == nil {
		t.Error("a job ran")
	}
}

// TestEtcdKilledMidRun: etcd stops under a run: poolrun stops its jobs,
// says so, exits non-zero; no job is left running.
func TestEtcdKilledMidRun(t *testing.T) {
	m := etcdtest.Start(t)
	dir := t.TempDir()
	url := "etcd://" + m.Client + "/killed?ttl=2s"
	cmd := poolrun(nil, "--sem", url, "-j", "2", "echo $$ > "+dir+"/pid.{}; exec sleep 60", ":::", "a", "b", "c")
	var errb strings.Builder
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pids := func() []int {
		var ps []int
		for _, n := range []string{"a", "b"} {
			b, _ := os.ReadFile(dir + "/pid." + n)
			if p, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
				ps = append(ps, p)
			}
		}
		return ps
	}
	waitFor(t, "two jobs", func() bool { return len(pids()) == 2 })
	m.Stop()
	err := cmd.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() == 0 {
		t.Errorf("poolrun after etcd stopped: %v", err)
	}
	if !strings.Contains(errb.String(), "stopping the running jobs") || strings.Count(errb.String(), "\n") != 1 {
		t.Errorf("stderr %q: want one line saying the fence", errb.String())
	}
	for _, p := range pids() {
		if syscall.Kill(p, 0) == nil {
			t.Errorf("job %d still runs", p)
			syscall.Kill(p, syscall.SIGKILL)
		}
	}
	if _, err := os.Stat(dir + "/pid.c"); err == nil {
		t.Error("a job started after the lease was lost")
	}
}

// TestKilledPoolrunRevokesAtOnce: poolrun SIGKILLed while holding the cap:
// its helper sees its input end and revokes the lease, long before the
// TTL (an hour here) would.
func TestKilledPoolrunRevokesAtOnce(t *testing.T) {
	m := etcdtest.Start(t)
	dir := t.TempDir()
	url := "etcd://" + m.Client + "/sigkill?ttl=1h"
	cmd := poolrun(nil, "--sem", url, "-j", "1", "echo $$ > "+dir+"/pid; exec sleep 60", ":::", "1")
	var errb strings.Builder
	cmd.Stderr = &errb
	defer func() {
		if t.Failed() {
			t.Logf("poolrun's stderr: %q", errb.String())
		}
	}()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the job", func() bool { _, err := os.Stat(dir + "/pid"); return err == nil })
	if len(keys(t, m.Client)) == 0 {
		t.Fatal("no keys while a job runs")
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	waitFor(t, "the lease revoked", func() bool { return len(keys(t, m.Client)) == 0 })
	if b, err := os.ReadFile(dir + "/pid"); err == nil {
		if p, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
			syscall.Kill(p, syscall.SIGKILL)
		}
	}
}

// TestSemLs: poolrun sem ls etcd://… lists the cap, its size and holder.
func TestSemLs(t *testing.T) {
	m := etcdtest.Start(t)
	dir := t.TempDir()
	url := "etcd://" + m.Client + "/listed"
	// --no-jobserver: a job's jobserver may hold a unit it offers to a
	// make in the job, which would make the count of held slots vary.
	hold := poolrun(nil, "--sem", url, "-j", "2", "--no-jobserver", "touch "+dir+"/held; sleep 30", ":::", "1")
	if err := hold.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { hold.Process.Signal(syscall.SIGTERM); hold.Wait() }()
	waitFor(t, "the job", func() bool { _, err := os.Stat(dir + "/held"); return err == nil })
	out, errs, code := result(t, poolrun(nil, "sem", "ls", "etcd://"+m.Client+"/"))
	host, _ := os.Hostname()
	if code != 0 || !strings.Contains(out, "listed") || !strings.Contains(out, host+":") || !strings.Contains(out, " 1/0") {
		t.Errorf("sem ls: status %d, stdout %q, stderr %q", code, out, errs)
	}
}
