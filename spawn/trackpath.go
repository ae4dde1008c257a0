package spawn

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// TrackPath registers a file system path (a file, a fifo, or a directory
// and what it holds) with this process's trackers, which remove it if
// this process dies before UntrackPath: a jobserver's fifo must not
// outlive a poolrun that was SIGKILLed. path must be absolute and hold no
// newline. The first call starts the trackers (see Track).
func TrackPath(path string) error {
	if !filepath.IsAbs(path) || strings.ContainsAny(path, "\n\x00") {
		return fmt.Errorf("spawn: track path %q: want an absolute path without a newline", path)
	}
	if err := checkDispatch(); err != nil {
		return fmt.Errorf("spawn: track path %s: %w", path, err)
	}
	tracker.mu.Lock()
	defer tracker.mu.Unlock()
	initLocked()
	if err := sendLocked("P+ " + path); err != nil {
		return fmt.Errorf("spawn: track path %s: %w", path, err)
	}
	tracker.paths[path] = true
	return nil
}

// UntrackPath tells the trackers to forget path (they will not remove
// it). A path that is not tracked is a no-op.
func UntrackPath(path string) error {
	tracker.mu.Lock()
	defer tracker.mu.Unlock()
	if !tracker.paths[path] {
		return nil
	}
	delete(tracker.paths, path)
	if len(tracker.procs) == 0 {
		return nil
	}
	if err := sendLocked("P- " + path); err != nil {
		return fmt.Errorf("spawn: untrack path %s: %w", path, err)
	}
	return nil
}

// removePaths is the tracker's cleanup of the paths still registered.
func removePaths(paths map[string]bool) {
	for p := range paths {
		os.RemoveAll(p)
	}
}
