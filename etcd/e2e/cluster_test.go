package e2e

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/poolrun/poolrun/etcd/internal/etcdtest"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// leaderOf is the member that leads the cluster.
func leaderOf(t *testing.T, ms []*etcdtest.Proc) *etcdtest.Proc {
	t.Helper()
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{ms[0].Client}, DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, m := range ms {
		st, err := cli.Status(ctx, m.Client)
		if err != nil {
			t.Fatal(err)
		}
		if st.Leader == st.Header.MemberId {
			return m
		}
	}
	t.Fatal("no leader")
	return nil
}

// TestClusterLeaderCrash: four poolruns share -j 3 on a three-member
// cluster whose leader crashes mid-run: the cap still holds (never more
// than 3 jobs at once), every job runs, and nothing is left.
func TestClusterLeaderCrash(t *testing.T) {
	ms := etcdtest.ProcCluster(t, 3)
	dir := t.TempDir()
	os.Mkdir(dir+"/run", 0o755)
	os.Mkdir(dir+"/ran", 0o755)
	url := "etcd://" + etcdtest.ProcEndpoints(ms) + "/leader"
	cmds := startFourRuns(t, dir, url)
	waitFor(t, "a fifth of the jobs", func() bool { ran, _ := os.ReadDir(dir + "/ran"); return len(ran) >= 12 })
	// Which is the leader: the member whose status says it leads.
	leader := leaderOf(t, ms)
	var rest []*etcdtest.Proc
	for _, m := range ms {
		if m == leader {
			m.Kill()
			continue
		}
		rest = append(rest, m)
	}
	checkFourRuns(t, dir, cmds)
	if k := keys(t, rest[0].Client); len(k) > 0 {
		t.Errorf("left in etcd: %v", k)
	}
}

// TestPartitionedHolderFenced: a holder cut off from the cluster (the one
// member it talks to is SIGKILLed; the others go on) stops its job before
// etcd gives its slot to a run on another member: when that run's job
// starts, the holder's job is gone.
func TestPartitionedHolderFenced(t *testing.T) {
	partitionedHolder(t, (*etcdtest.Proc).Kill, "6s", "exec sleep 60")
}

// TestFrozenMemberHolderFenced: the same, with the holder's member
// SIGSTOPped rather than killed: its connection stays open and nothing
// answers, as when a network drops the holder's traffic (no reset, no
// error, only silence). The holder must fence itself on its own clock.
func TestFrozenMemberHolderFenced(t *testing.T) {
	partitionedHolder(t, freeze(t), "6s", "exec sleep 60")
}

// TestFrozenMemberStubbornJobFenced: the same with the shortest TTL, 2s,
// and a job that ignores SIGTERM: poolrun's grace (1s) must pass before
// the KILL, and the helper fences that much earlier (etcdcap's Guard), so
// the job is still gone before etcd gives its slot away.
func TestFrozenMemberStubbornJobFenced(t *testing.T) {
	partitionedHolder(t, freeze(t), "2s", ": {}; trap '' TERM; while :; do sleep 0.05; done")
}

func freeze(t *testing.T) func(*etcdtest.Proc) {
	return func(p *etcdtest.Proc) { p.Freeze(); t.Cleanup(p.Thaw) }
}

// partitionedHolder runs a holder (job: its shell code after it has
// written its pid) on member 0 alone, with leases of ttl, and a second run
// on the other members, cuts member 0 off with cut, and checks that the
// holder's job is gone when the second run's job starts.
func partitionedHolder(t *testing.T, cut func(*etcdtest.Proc), ttl, job string) {
	ms := etcdtest.ProcCluster(t, 3)
	dir := t.TempDir()
	name := "/partition?ttl=" + ttl
	holder := poolrun(nil, "--sem", "etcd://"+ms[0].Client+name, "-j", "1", "echo $$ > "+dir+"/holder; "+job, ":::", "1")
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	defer holder.Process.Kill()
	waitFor(t, "the holder's job", func() bool { b, _ := os.ReadFile(dir + "/holder"); return len(b) > 0 })
	b, _ := os.ReadFile(dir + "/holder")
	hpid := strings.TrimSpace(string(b))
	// The second run waits on the other members for the one slot; its job
	// notes whether the holder's job still runs when it starts.
	second := poolrun(nil, "--sem", "etcd://"+etcdtest.ProcEndpoints(ms[1:])+name, "-j", "1",
		"if kill -0 "+hpid+" 2>/dev/null; then echo overlap > "+dir+"/overlap; fi; : > "+dir+"/second", ":::", "1")
	var errb strings.Builder
	second.Stderr = &errb
	defer func() {
		if t.Failed() {
			t.Logf("the second run's stderr: %q", errb.String())
		}
	}()
	if err := second.Start(); err != nil {
		t.Fatal(err)
	}
	cut(ms[0])
	herr := holder.Wait()
	if ee, ok := herr.(*exec.ExitError); !ok || ee.ExitCode() == 0 {
		t.Errorf("the cut-off holder: %v, want a non-zero exit", herr)
	}
	if err := second.Wait(); err != nil {
		t.Errorf("the second run: %v", err)
	}
	if _, err := os.Stat(dir + "/second"); err != nil {
		t.Error("the second run's job did not run")
	}
	if _, err := os.Stat(dir + "/overlap"); err == nil {
		t.Error("the second run's job started while the cut-off holder's job still ran")
	}
}
