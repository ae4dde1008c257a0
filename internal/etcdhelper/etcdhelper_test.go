package etcdhelper

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFind(t *testing.T) {
	t.Setenv(Env, "/opt/x/poolrun-etcd")
	if p, err := Find(); err != nil || p != "/opt/x/poolrun-etcd" {
		t.Errorf("with %s set: %q %v", Env, p, err)
	}
	dir := t.TempDir()
	helper := filepath.Join(dir, Name)
	if err := os.WriteFile(helper, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv(Env, "")
	t.Setenv("PATH", dir)
	if p, err := Find(); err != nil || p != helper {
		t.Errorf("in PATH: %q %v", p, err)
	}
	t.Setenv("PATH", t.TempDir())
	_, err := Find()
	if err == nil || !strings.Contains(err.Error(), "go install github.com/poolrun/poolrun/etcd/cmd/poolrun-etcd@latest") {
		t.Errorf("without a helper: %v, want how to install it", err)
	}
	if _, err := Open("etcd://127.0.0.1:1/x", 1); err == nil || !strings.Contains(err.Error(), "go install") {
		t.Errorf("Open without a helper: %v", err)
	}
}

func TestIsURL(t *testing.T) {
	for s, want := range map[string]bool{"etcd://h:1/a": true, "etcd:/x": false, "builds": false, "": false} {
		if IsURL(s) != want {
			t.Errorf("IsURL(%q) = %v", s, !want)
		}
	}
}
