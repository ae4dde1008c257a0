package main

// semHelpText is sem --help (and the personalities' part of poolrun
// --help points here).
const semHelpText = `sem: GNU sem, the counting semaphore of GNU parallel, on a SysV semaphore.

Usage:
  sem [--fg] [--id NAME] [-j N] [--st SECS] [--timeout SECS] command...
  sem [--id NAME] --wait
  poolrun --semaphore [options] command...      (the same)

sem waits until fewer than N commands started with the same --id run, then
starts the command in the background and returns at once (it holds a slot
for as long as the command runs). --wait waits until every command started
with that id has ended. A command that is killed, even by SIGKILL, gives its
slot back at once: --wait never hangs on one.

  --fg                run the command in the foreground: wait for it and exit
                      with its status (128+N if signal N killed it)
  --bg                in the background (the default)
  --id NAME           the semaphore's name (--semaphorename); default: the name
                      of the terminal on stdin, as tty prints it ("not a tty")
  -j N, -P N, --jobs  at most N commands at once (default 1: a mutex). Each
                      call brings its own N: -j 2 waits until fewer than 2 run.
                      0: no limit; +N, -N: the CPUs plus or minus N; N%: of the
                      CPUs; or a file that holds one of those
  --wait              wait until every command of the id has ended
  --st SECS           --semaphoretimeout: SECS > 0: after SECS take the slot
                      anyway; SECS < 0: after -SECS give up (exit 1)
  --timeout SECS      kill the command after SECS (exit 255 with --fg)
  -u, --ungroup       the command writes straight to sem's stdout and stderr
                      (default: its output is printed whole once it ended,
                      stdout then stderr, as GNU parallel's --group)
  -q, --quote         the command's words as they are, not shell code
  --no-jobserver      (poolrun's own) under make, take no jobserver token

Under make (a + recipe), a background command holds one of make's jobserver
tokens, so make's -jN binds it too; --fg runs on the recipe's own token.
--id etcd://HOST:PORT[,HOST:PORT]/NAME: the slot is one of a cluster-wide etcd
cap of -j slots (made by its first user), through the poolrun-etcd helper.

  for f in *.log; do sem -j+0 gzip "$f"; done; sem --wait
  sem --id pod2html --fg pod2html foo.pod --outfile foo.html

poolrun's personalities: poolrun is GNU sem when it is called as sem, and
xargs when it is called as xargs. Make the links with
  ln -s "$(command -v poolrun)" ~/bin/sem
  ln -s "$(command -v poolrun)" ~/bin/xargs
poolrun sem ls | rm | gc | run manages poolrun's own sets (see poolrun --help).
See docs/sem.md.
`
