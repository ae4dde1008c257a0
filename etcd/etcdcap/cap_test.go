package etcdcap

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/poolrun/poolrun/etcd/internal/etcdtest"
	clientv3 "go.etcd.io/etcd/client/v3"
)

func raw(t *testing.T, endpoints string) *clientv3.Client {
	t.Helper()
	cli, err := clientv3.New(clientv3.Config{Endpoints: strings.Split(endpoints, ","), DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

// assertEmpty fails if anything of poolrun's is left in etcd.
func assertEmpty(t *testing.T, cli *clientv3.Client) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r, err := cli.Get(ctx, "/poolrun/", clientv3.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range r.Kvs {
		t.Errorf("left in etcd: %s = %s", kv.Key, kv.Value)
	}
}

func mustOpen(t *testing.T, url string, n int) *Cap {
	t.Helper()
	tg, err := ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	c, err := Open(context.Background(), tg, n)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// waitFor polls cond (a fact in etcd or on disk) until it holds, failing
// after a minute: a bound against hangs, not a timing assertion.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(time.Minute); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("still waiting for %s after a minute", what)
		}
	}
}

func slotKeys(t *testing.T, cli *clientv3.Client, name string) int {
	r, err := cli.Get(context.Background(), "/poolrun/cap/"+name+"/s/", clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil {
		t.Fatal(err)
	}
	return int(r.Count)
}

// TestCapHoldsAcrossProcesses: four processes, 30 slots each from a cap of
// 3: never more than 3 holders at once, every round run, nothing left.
func TestCapHoldsAcrossProcesses(t *testing.T) {
	m := etcdtest.Start(t)
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, "hold"), 0o755)
	os.Mkdir(filepath.Join(dir, "ran"), 0o755)
	url := "etcd://" + m.Client + "/across"
	var cmds []interface{ Wait() error }
	for i := 0; i < 4; i++ {
		cmds = append(cmds, helper(t, "holders", "ETCDCAP_URL="+url, "ETCDCAP_SIZE=3", "ETCDCAP_ROUNDS=30", "ETCDCAP_DIR="+dir))
	}
	for _, c := range cmds {
		if err := c.Wait(); err != nil {
			t.Fatalf("a holder failed: %v", err)
		}
	}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), "over.") {
			b, _ := os.ReadFile(filepath.Join(dir, e.Name()))
			t.Errorf("%s holders at once (cap of 3)", b)
		}
	}
	if ran, _ := os.ReadDir(filepath.Join(dir, "ran")); len(ran) != 120 {
		t.Errorf("%d rounds ran, want 120", len(ran))
	}
	assertEmpty(t, raw(t, m.Client))
}

// TestArrivalOrder: waiters get a one-slot cap in the order they came.
func TestArrivalOrder(t *testing.T) {
	m := etcdtest.Start(t)
	cli := raw(t, m.Client)
	url := "etcd://" + m.Client + "/order"
	c := mustOpen(t, url, 1)
	first, err := c.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	const n = 6
	got := make(chan int, n)
	var caps []*Cap
	for i := 0; i < n; i++ {
		w := mustOpen(t, url, 1)
		caps = append(caps, w)
		go func() {
			s, err := w.Acquire(context.Background())
			if err != nil {
				t.Error(err)
				got <- -1
				return
			}
			got <- i
			s.Release()
		}()
		// The next one comes only once this one waits: its key is there.
		waitFor(t, "waiter's key", func() bool { return slotKeys(t, cli, "order") == i+2 })
	}
	first.Release()
	for i := 0; i < n; i++ {
		if g := <-got; g != i {
			t.Errorf("waiter %d got the slot in place %d", g, i)
		}
	}
	for _, w := range append(caps, c) {
		if err := w.Close(); err != nil {
			t.Error(err)
		}
	}
	assertEmpty(t, cli)
}

// TestTryAcquireAndCancel: a full cap refuses TryAcquire and leaves no key;
// an Acquire whose ctx ends returns ctx's error and takes its key away.
func TestTryAcquireAndCancel(t *testing.T) {
	m := etcdtest.Start(t)
	cli := raw(t, m.Client)
	c := mustOpen(t, "etcd://"+m.Client+"/try", 2)
	defer c.Close()
	a, ok, err := c.TryAcquire()
	if !ok || err != nil {
		t.Fatalf("first TryAcquire: %v %v", ok, err)
	}
	b, ok, err := c.TryAcquire()
	if !ok || err != nil {
		t.Fatalf("second TryAcquire: %v %v", ok, err)
	}
	if _, ok, err := c.TryAcquire(); ok || err != nil {
		t.Fatalf("third TryAcquire of 2: %v %v", ok, err)
	}
	if n := slotKeys(t, cli, "try"); n != 2 {
		t.Errorf("%d slot keys, want 2", n)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error)
	go func() {
		_, err := c.Acquire(ctx)
		errc <- err
	}()
	waitFor(t, "the waiter's key", func() bool { return slotKeys(t, cli, "try") == 3 })
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("Acquire after cancel: %v, want context.Canceled", err)
	}
	if n := slotKeys(t, cli, "try"); n != 2 {
		t.Errorf("%d slot keys after the cancelled wait, want 2", n)
	}
	a.Release()
	b.Release()
	if n := slotKeys(t, cli, "try"); n != 0 {
		t.Errorf("%d slot keys after release, want 0", n)
	}
}

// TestSizeKeptByFirst: a second Open with another n gets the cap's size.
func TestSizeKeptByFirst(t *testing.T) {
	m := etcdtest.Start(t)
	url := "etcd://" + m.Client + "/size"
	a := mustOpen(t, url, 3)
	defer a.Close()
	s, err := a.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Release()
	b := mustOpen(t, url, 5)
	defer b.Close()
	if b.Size() != 3 {
		t.Errorf("Size %d, want 3 (the cap in use)", b.Size())
	}
	tg, _ := ParseURL("etcd://" + m.Client + "/nobody")
	if _, err := Open(context.Background(), tg, 0); err == nil || !strings.Contains(err.Error(), "no such cap") {
		t.Errorf("Open of no cap with n 0: %v", err)
	}
}

// TestKilledHolderGivesSlotBack: a holder SIGKILLed while it holds the
// only slot: its lease expires and the slot is another's, nothing left.
func TestKilledHolderGivesSlotBack(t *testing.T) {
	m := etcdtest.Start(t)
	dir := t.TempDir()
	url := "etcd://" + m.Client + "/killed?ttl=2s"
	h := helper(t, "hold", "ETCDCAP_URL="+url, "ETCDCAP_DIR="+dir)
	waitFor(t, "the holder", func() bool { _, err := os.Stat(filepath.Join(dir, "held")); return err == nil })
	c := mustOpen(t, url, 1)
	defer c.Close()
	if _, ok, _ := c.TryAcquire(); ok {
		t.Fatal("a slot of a full cap")
	}
	h.Process.Signal(syscall.SIGKILL)
	h.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := c.Acquire(ctx)
	if err != nil {
		t.Fatalf("the dead holder's slot did not come back: %v", err)
	}
	s.Release()
	c.Close()
	assertEmpty(t, raw(t, m.Client))
}

// TestLostLeaseFences: etcd stopped under a holder: Lost is closed within
// the TTL, Err says so, and Acquire fails.
func TestLostLeaseFences(t *testing.T) {
	m := etcdtest.Start(t)
	c := mustOpen(t, "etcd://"+m.Client+"/fence?ttl=2s", 1)
	defer c.Close()
	s, err := c.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-c.Lost():
		t.Fatal("lost before etcd stopped")
	default:
	}
	m.Stop()
	select {
	case <-c.Lost():
	case <-time.After(time.Minute):
		t.Fatal("Lost not closed a minute after etcd stopped")
	}
	// The fence comes before etcd could expire the lease: before the last
	// renewal etcd granted, counted from when it was sent, plus the TTL.
	if expiry := time.Unix(0, c.renewed.Load()).Add(2 * time.Second); !time.Now().Before(expiry) {
		t.Errorf("Lost closed %v after the lease could have expired", time.Since(expiry))
	}
	if !errors.Is(c.Err(), ErrLost) {
		t.Errorf("Err %v, want ErrLost", c.Err())
	}
	if _, err := c.Acquire(context.Background()); !errors.Is(err, ErrLost) {
		t.Errorf("Acquire after the loss: %v", err)
	}
	s.Release()
}

// TestNestedRunsOnJobSlot: a process started on a slot (the Share's
// environment) runs on that slot while the cap is full, and only on it.
func TestNestedRunsOnJobSlot(t *testing.T) {
	m := etcdtest.Start(t)
	dir := t.TempDir()
	c := mustOpen(t, "etcd://"+m.Client+"/nested", 1)
	s, err := c.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	sh, err := c.Share()
	if err != nil {
		t.Fatal(err)
	}
	h := helper(t, "nested", append(sh.Env(), "ETCDCAP_DIR="+dir)...)
	h.Wait()
	if b, _ := os.ReadFile(filepath.Join(dir, "nested")); string(b) != "ok" {
		t.Errorf("nested: %q", b)
	}
	sh.Close()
	s.Release()
	c.Close()
	assertEmpty(t, raw(t, m.Client))
}

// TestUnreachable: Open of a cluster nobody listens on fails, in bounded
// time, with a line that says so.
func TestUnreachable(t *testing.T) {
	tg, _ := ParseURL("etcd://127.0.0.1:1/x")
	done := make(chan error, 1)
	go func() {
		_, err := Open(context.Background(), tg, 1)
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "127.0.0.1:1") {
			t.Errorf("Open of an unreachable etcd: %v", err)
		}
		t.Log(err)
	case <-time.After(time.Minute):
		t.Fatal("Open of an unreachable etcd hangs")
	}
}

func ExampleOpen() {
	t, err := ParseURL("etcd://127.0.0.1:2379/render-farm")
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	c, err := Open(ctx, t, 20)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	s, err := c.Acquire(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.Release()
	select {
	case <-c.Lost():
		// The lease is gone: stop what runs on the slot.
	default:
	}
}
