package main

import (
	"fmt"
	"os"
	"time"
)

// progress draws a one-line bar on stderr every 200 ms until stop closes
// (--bar, when stderr is a terminal). The total is known once every input
// has been read; until then the bar shows counts only.
func (r *runner) progress(stop <-chan struct{}) {
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		r.drawBar()
		select {
		case <-stop:
			r.drawBar()
			fmt.Fprint(os.Stderr, "\n")
			return
		case <-t.C:
		}
	}
}

func (r *runner) drawBar() {
	done := int(r.finished.Load())
	running := int(r.running.Load())
	r.mu.Lock()
	failed := r.failed
	r.mu.Unlock()
	elapsed := time.Since(r.begin)
	line := ""
	if r.in.eof.Load() {
		total := int(r.in.count.Load() - r.skipped.Load())
		pct := 100
		if total > 0 {
			pct = done * 100 / total
		}
		const width = 30
		fill := pct * width / 100
		bar := make([]byte, width)
		for i := range bar {
			bar[i] = ' '
			if i < fill {
				bar[i] = '#'
			}
		}
		eta := "?"
		if done > 0 && total >= done {
			eta = (elapsed * time.Duration(total-done) / time.Duration(done)).Round(time.Second).String()
		}
		line = fmt.Sprintf("%3d%% [%s] %d/%d done, %d failed, %d running, ETA %s", pct, bar, done, total, failed, running, eta)
	} else {
		line = fmt.Sprintf("%d done, %d failed, %d running, reading inputs... %s", done, failed, running, elapsed.Round(time.Second))
	}
	fmt.Fprintf(os.Stderr, "\r\033[K%s", line)
}
