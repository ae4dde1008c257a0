// Package rebuild carries semaphore handles from a parent process to its
// children through one environment variable, POOLRUN_SEMLOCKS, and
// reattaches them in the child with verification.
//
// The parent encodes the handles of the SemLocks it shares (the spawn
// package does this for Cmd.Locks); the child calls FromEnv once, early in
// main, and looks its locks up by name:
//
//	set, err := rebuild.FromEnv()
//	if err != nil {
//		return err // names the variable, the handle and what did not match
//	}
//	defer set.Close()
//	slots, ok := set.Lookup("slots")
//
// The wire format (version 1) is plain ASCII, strict and documented in
// format.go so that programs in other languages can read and write it.
package rebuild
