// Package batch is poolrun's command-batch engine: it runs one command
// per input with at most N at once, like xargs -P and GNU parallel, each
// job in its own process group, its output printed whole (or in input
// order, or line by line), with timeouts, retries, --halt, a joblog and a
// results directory. The cap it takes slots from is a slots.Cap: private
// to the batch, machine-wide, or inherited from the poolrun job the
// process runs in.
//
// The shortest real use (the process must call spawn.Dispatch first thing
// in main: a tracker re-exec of the binary removes the batch's private cap
// and kills its jobs if the process is killed):
//
//	sum, err := batch.Run(ctx, batch.Spec{
//		Command:   []string{"gzip", "-9"},
//		Inputs:    batch.Args("a.log", "b.log", "c.log"),
//		Jobs:      2,
//		KeepOrder: true,
//		Stdout:    os.Stdout,
//		Stderr:    os.Stderr,
//	})
//	if err != nil {
//		return err
//	}
//	fmt.Println(sum.Failed, "failed")
//
// The engine is three parts that each own their state: the scheduler
// (schedule.go: slot numbers, the cap, the feed of inputs), the jobs'
// processes (job.go: start, timeout, stop), and the printer and the
// recorder (output.go, records.go: capture, order, tag, joblog, results).
package batch
