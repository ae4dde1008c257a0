package batch

import (
	"fmt"
	"time"
)

// progress draws a one-line bar on Stderr every 200 ms until stop closes.
// The total is known once every input has been read; until then the bar
// shows counts only.
func (r *batchRun) progress(stop <-chan struct{}) {
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		r.drawBar()
		select {
		case <-stop:
			r.drawBar()
			r.out.say("\n")
			return
		case <-t.C:
		}
	}
}

func (r *batchRun) drawBar() {
	done := int(r.tally.finished.Load())
	running := int(r.tally.running.Load())
	failed := r.tally.failedNow()
	elapsed := time.Since(r.begin)
	var line string
	if total := r.total(); total > 0 || r.sched.in.eof.Load() {
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
	r.out.say("\r\033[K%s", line)
}
