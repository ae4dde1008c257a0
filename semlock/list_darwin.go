package semlock

import (
	"bufio"
	"bytes"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/poolrun/poolrun/internal/procstart"
)

var errNoEnt = syscall.ENOENT

// listIDs asks ipcs(1): darwin has no /proc and no SEM_STAT walk.
func listIDs() ([]int, error) {
	out, err := exec.Command("ipcs", "-s").Output()
	if err != nil {
		return nil, err
	}
	var ids []int
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) >= 2 && fs[0] == "s" {
			if id, err := strconv.Atoi(fs[1]); err == nil {
				ids = append(ids, id)
			}
		}
	}
	return ids, sc.Err()
}

// processAlive reports whether pid is alive and started no later than
// created (plus a little slack): a process started after the set was
// created is a newer process that reuses the creator's pid.
func processAlive(pid int, created time.Time) bool {
	start, ok := procstart.Start(pid)
	return ok && !start.After(created.Add(time.Second))
}
