// Command poolrun runs a batch of commands with a concurrency cap, like
// xargs -P and GNU parallel, and manages the SysV semaphore sets that
// serve as caps (poolrun sem).
//
// The shortest real use runs examples/batch/job.sh once per line of
// examples/batch/inputs.txt, four at a time, output in input order:
//
//	poolrun -j 4 -k -a examples/batch/inputs.txt -- sh examples/batch/job.sh {}
//
// The cap is a SysV semaphore: private to the run (and to poolruns nested
// in its jobs, which share it through POOLRUN_SEMLOCKS), or named and
// machine-wide with --sem NAME. Jobs run in their own process groups and
// die with poolrun; a tracker process removes the private set and kills
// the job groups even if poolrun is SIGKILLed. See poolrun --help.
package main
