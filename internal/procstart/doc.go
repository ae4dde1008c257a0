// Package procstart tells when a process started, for the packages of
// this module that must tell a live process from a newer one that reuses
// its pid: semlock (is a set's creator still up?) and spawn (is a set's
// last user alive? is a process gone?). It is internal: the module's
// public API does not promise it.
//
// Start(pid) returns the process's start time and true, or false if no
// such process runs. A zombie (exited, not yet reaped) counts as gone: it
// runs nothing and can no longer use a semaphore set. On Linux it reads
// /proc/PID/stat; on darwin it asks sysctl kern.proc.pid.
package procstart
