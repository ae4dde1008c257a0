//go:build !linux

package rebuild

import (
	"errors"
	"os/exec"
)

func inNewIPCNamespace(cmd *exec.Cmd) error {
	return errors.New("IPC namespaces are Linux only")
}

func setOwner(id, uid int) (func(), error) {
	return nil, errors.New("not implemented on this platform")
}
