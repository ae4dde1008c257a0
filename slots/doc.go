// Package slots is poolrun's cap abstraction: at most N things run at
// once, and a thing that wants to run takes a slot with a context and
// gives it back. Every consumer — the batch engine, poolrun sem, and pool
// — takes its slots through the Cap interface, whatever the cap is made
// of:
//
//   - a private cap (New): a SysV semaphore of N units made for one run
//     and removed after it (by the tracker if the run is killed);
//   - a named, machine-wide cap (Open): a SysV semaphore that every
//     process of this user naming it shares;
//   - the cap a process inherited from the poolrun job it runs in
//     (FromEnv), found in POOLRUN_SEMLOCKS.
//
// The SysV kinds take units with SEM_UNDO: a holder that dies, even by
// SIGKILL, gives its slot back at once.
//
// A process started on a slot can share the cap (Cap.Share): its
// environment names the cap and the slot it runs on, so a poolrun or a
// pool started in it takes its first slot for free (the one its parent
// job already holds, as in make's jobserver) and further ones from the
// cap. Nested runs can therefore never deadlock, and the leaf jobs of all
// of them never exceed the outermost cap. See docs/design.md.
//
// The shortest real use:
//
//	c, err := slots.Default(4) // the inherited cap, or a private one of 4
//	if err != nil {
//		return err
//	}
//	defer c.Close()
//	s, err := c.Acquire(ctx)
//	if err != nil {
//		return err
//	}
//	defer s.Release()
//
// A process that makes private caps must call spawn.Dispatch first thing
// in main: the tracker that removes them if the process is killed is a
// re-exec of the binary.
package slots
