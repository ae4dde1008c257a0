// Package jobserver speaks GNU make's jobserver protocol, both ways, on
// top of poolrun's slots.Cap:
//
//   - Server (Serve) is a jobserver for one process tree — a poolrun job
//     — backed by a cap: every token a client of the tree (make, cargo,
//     rustc, ninja, a nested poolrun) takes is a unit of the cap, so the
//     whole tree never runs more than the cap allows, and when the job
//     ends every unit its tree took and did not give back returns to the
//     cap: a make SIGKILLed while it holds tokens costs nothing.
//   - Client (ClientFromEnv, Dial) is a slots.Cap over the jobserver of
//     the make this process runs under: its first slot is the implicit
//     token, each further one a byte read from make and written back on
//     Release; nothing is read ahead.
//
// The protocol, as GNU make's manual ("POSIX Jobserver", "Job Slots")
// and make 4.3 on Linux have it: MAKEFLAGS (cargo also writes
// CARGO_MAKEFLAGS, which its jobserver crate reads first, then MAKEFLAGS,
// then MFLAGS) holds --jobserver-auth=R,W (two inherited descriptors of
// a pipe; --jobserver-fds= before make 4.2) or, from make 4.4,
// --jobserver-auth=fifo:PATH; the last such word counts; negative
// descriptors mean none. A token is a byte read from the pipe, written
// back when done; every process has one implicit token it never reads.
// make 4.3 names its jobserver in the MAKEFLAGS of every recipe but
// hands the descriptors only to recursive ones ($(MAKE), or a + prefix);
// make 4.4 writes -2,-2 to the others. A make given -jN on its command
// line ignores the jobserver it inherits ("-jN forced in submake:
// resetting jobserver mode").
//
// Linux only: the Server's wake-up on a taken token relies on a pipe of
// one page reporting POLLOUT only when empty (F_SETPIPE_SZ), and both
// sides reopen pipes through /proc/self/fd to get a non-blocking open
// file description of their own. See docs/jobserver.md.
package jobserver
