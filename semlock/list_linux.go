package semlock

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/poolrun/poolrun/internal/procstart"
)

var errNoEnt = syscall.ENOENT

// listIDs reads every semid on the machine from /proc/sysvipc/sem.
func listIDs() ([]int, error) {
	f, err := os.Open("/proc/sysvipc/sem")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var ids []int
	sc := bufio.NewScanner(f)
	sc.Scan() // header
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) < 2 {
			continue
		}
		if id, err := strconv.Atoi(fs[1]); err == nil {
			ids = append(ids, id)
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
