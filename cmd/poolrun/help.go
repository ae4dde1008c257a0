package main

const usageHint = "see poolrun --help"

const helpText = `poolrun runs a batch of commands with a concurrency cap, like xargs -P and
GNU parallel; the cap is a SysV semaphore that can be shared machine-wide.

Usage:
  poolrun [flags] [--] [command [args...]] [::: inputs...] [:::: files...]
  poolrun sem ls|rm NAME|ID|gc|run NAME -j N -- command...

Each input (a line of stdin, of an -a file, or an argument after :::) runs
the command once, with replacement strings filled in; with no {} anywhere
the input is appended as the last argument. With no command, each input is
a shell command (sh -c). As in GNU parallel, the command's words are
joined with spaces into one line of shell code, run under sh -c with each
replacement quoted for where it sits: an operator you escaped acts
(poolrun echo {} \; echo done), and so do redirections, $VAR and globs.
A line with no shell syntax runs directly, without a shell (the same
result, faster). -q, --quote keeps the words as they are, one argument
each:  poolrun -q sh -c 'echo "$1"' sh {} ::: a

  poolrun -j 4 -k -a examples/batch/inputs.txt -- sh examples/batch/job.sh {}
  find . -name '*.log' | poolrun gzip -9
  poolrun 'convert {} {.}.png' ::: *.jpg
  poolrun < commands.txt                       # each line: a shell command

Replacement strings (GNU parallel's):
  {}    the input                      a/b.tar.gz
  {.}   without its extension          a/b.tar
  {/}   basename                       b.tar.gz
  {//}  dirname                        a
  {/.}  basename without extension     b.tar
  {#}   job number (1, 2, ...)         poolrun echo {#} ::: a b   -> 1, 2
  {%}   slot number (1..-j)            poolrun -j 2 echo {%} ::: a b c
  --plus  GNU parallel's extra ones: {+/} {+.} {+..} {+...} {..} {...} {/..}
        {/...}, {##} (the number of jobs), {0#} {0%} (zero-padded), and
        {:-str} {:N} {:N:M} {#re} {##re} {%re} {%%re} {/re/str} {//re/str}
        {^re} {^^re} {,re} {,,re}:  poolrun --plus echo {..} {+..} ::: a.tar.gz
  --shellquote, --shell-quote, --shell_quote
        print each command line quoted for the shell instead of running it

Inputs:
  -a, --arg-file FILE   read inputs from FILE (repeatable: files are read in
                        turn; "-" is stdin):   poolrun -a urls.txt curl -O
  ::: ARGS              inputs on the command line:  poolrun echo ::: a b c
  :::: FILES            like -a:                     poolrun wc -l :::: list
  -0, --null            inputs end with NUL, not newline:
                        find . -print0 | poolrun -0 rm
  -d, --delimiter CHAR  inputs end with CHAR (\n \t \0 too):  poolrun -d , echo
  Several sources give one job per combination, GNU parallel's way: -a files
  first, then ::: and :::: sources in order, the last varying fastest:
                        poolrun echo ::: a b ::: 1 2   -> a 1, a 2, b 1, b 2
  :::+ ARGS, ::::+ FILE pair a source with the one before it (up to the
                        shorter):  poolrun echo ::: a b :::+ 1 2  -> a 1, b 2
  --link, --xapply      pair all the sources up, shorter ones starting over
  {1} {2} ... take one source's value ({1.} {2/} {2//} {2/.} too); {} all
  of them, space-separated, as --tag prefixes them.
  -n, --max-args N      N inputs per job (-N, --max-replace-args too):
                        poolrun -n 2 echo ::: a b c
                        runs echo a b, then echo c; {1} {2} take them in turn
  -m                    as many inputs per job as fit on the command line
                        (-s), dealt evenly over the -j slots when they are
                        few: poolrun -j 2 -m echo ::: 1 2 3  -> 1 2, 3
  -X                    as -m, and a word with {} is repeated per input:
                        poolrun -X echo x{}y ::: a b  -> echo xay xby
  --xargs               as -m, filling each line (not spread over slots)
  -s, --max-chars N     command lines shorter than N bytes (the shell line,
                        quoted); with -m/-X/--xargs, -N, -L or alone
  -L, --max-lines N     N input lines per job, each word with {} repeated
                        per line (as -X)
  -N N                  like -n, with a word with {} repeated per input
  -I STR                STR stands for the input instead of {} (which is
                        then plain text): poolrun -I XX echo XX ::: a
  --replace[=STR], -i   the same, STR {} if not given
  -r, --no-run-if-empty skip inputs that are empty or blank
  -E EOF                an input EOF ends the inputs: poolrun -E b echo ::: a b c
                        runs echo a only
  -C, --colsep REGEXP   split each input into columns, {1} {2} ...:
                        poolrun --colsep , echo {2} :::: table.csv
  --csv                 each input is a CSV record (quoted fields may hold
                        the separator, "" and newlines), split at --colsep
                        (one character, default ,):  poolrun --csv echo {2} :::: t.csv
  --header :            the first line of each source names its columns,
                        {NAME} takes one (--colsep defaults to TAB); a
                        number is that many header lines:
                        poolrun --header : --colsep , echo {city} :::: t.csv
  --trim n|l|r|lr       trim blanks off each input (left, right, both)
  --arg-sep, --argsep SEP  SEP instead of :::
  --arg-file-sep, --argfilesep SEP  SEP instead of ::::
  --shuf                read every input first, run the jobs in random order
  Inputs are read as they come: a long or endless stdin is fine (the
  sources after the first are read whole first).

Pipe mode (GNU parallel's --pipe; docs/pipe.md):
  --pipe, --spreadstdin split stdin into blocks of whole lines, each on one
                        job's stdin:  poolrun --pipe wc -l < big.log
  --pipepart, --pipe-part
                        split the -a file instead, each job reading its part:
                        poolrun --pipepart -a big.log -j 4 wc -l
  --block, --block-size, --blocksize SIZE
                        bytes per block (default 1M; k=1000, K=1024, M G T ...):
                        poolrun --pipe --block 10M gzip < big > big.gz
                        with --pipepart, -N makes N parts per slot (default -10)
  --recend STR          records end with STR (default \n)
  --recstart STR        records start with STR:
                        poolrun --pipe --recstart '>' -N 1 ./align.sh < reads.fa
  --regexp              --recend and --recstart are regular expressions
  -N N                  with --pipe: N records per block (-n too)
  -L N, --max-lines N   with --pipe: a record is N lines
  --header :|N|REGEXP   repeat the first line (N lines, what REGEXP matches) at
                        the start of every block:
                        poolrun --pipe --header : -N 500 ./import.py < t.csv
  --rrs, --remove-rec-sep, --removerecsep
                        remove --recend/--recstart where blocks and records meet
  --cat                 give each block as a temporary file, {}: its name:
                        poolrun --pipe --cat 'sort {} > {#}.sorted' < big
  {#} is the block's number, {%} the slot; -k keeps the blocks' order; a
  job that closes its stdin early (head -1) is fine. --fifo and --roundrobin
  (--round-robin) are not supported.

Concurrency:
  -j, --jobs, --max-procs N
                        run at most N jobs at once (default: the number of
                        CPUs); N% is a share of the CPUs:  poolrun -j 50% ...;
                        +N and -N the CPUs plus or minus N; 0 as many as
                        the machine's limits allow
  --sem NAME            share a machine-wide cap named NAME with every run
                        that uses it; -j sizes it when it is created, and a
                        run with another -j says so:  poolrun --sem build -j 4 make -C {}
  --sem etcd://HOST:PORT[,HOST:PORT...]/NAME[?ttl=10s]
                        share a cluster-wide cap on etcd with every run on
                        every machine that uses it (needs the poolrun-etcd
                        helper beside poolrun or in PATH; see docs/etcd.md).
                        If the lease cannot be renewed, the jobs are stopped
                        and poolrun exits 255
  A poolrun started inside a job shares its parent's cap (found in
  POOLRUN_SEMLOCKS): the job's own slot runs its first child, so nested
  runs never deadlock and never exceed the cap.
  --jobserver-style STYLE  each job gets a GNU make jobserver backed by the
                        cap, so the makes, cargos and ninjas in the jobs
                        share it: pipe (default; make 4.3 reads only this)
                        or fifo (make >= 4.4, ninja >= 1.13)
  --no-jobserver        hand the jobs no jobserver, and take no tokens from one
  Under make -jN (a + recipe, or fifo style) poolrun takes its slots from
  make's jobserver: -j is then at most this many of make's tokens.

Output (default: each job's stdout, then its stderr, printed whole when it ends):
  -k, --keep-order      print outputs in input order:   poolrun -k -j 8 ...
  --line-buffer, --lb, --linebuffer
                        print whole lines as they come (lines never mixed):
                        poolrun --lb tail -n 3 ::: *.log; with -k, the
                        earliest job's lines live, later jobs' after it
  -u, --ungroup         jobs write straight to poolrun's stdout/stderr (fastest;
                        outputs may interleave, like xargs; a closed stdout,
                        as in | head, kills the jobs writing to it with
                        SIGPIPE, and they count as failed, like xargs)
  --tag, --ctag         prefix each line with the input and a TAB:
                        poolrun --tag wc -l ::: *.txt
  --tagstring, --ctagstring STR
                        prefix each line with STR (replacement strings work)
                        and a TAB:  poolrun --tagstring '{#}:{1}' ...
  --results DIR         save each job's output instead of printing it, as
                        GNU parallel does: DIR/1/VALUE/2/VALUE/{stdout,stderr,seq}
                        (with --header, the names instead of 1 2); a name
                        with replacement strings is the stdout file itself
                        (out/{1}.txt, .err and .seq beside it; ending in /,
                        a directory); NAME.csv, .tsv, .json: one table
                        (-.csv on stdout):  poolrun --results out ./t.sh ::: a b
  --files, --output-as-files, --outputasfiles
                        save each job's stdout in a file of --tmpdir (default
                        $TMPDIR or /tmp) and print the file's name instead
  --tmpdir, --tempdir DIR  where --files puts its files

Failures and time:
  --timeout DUR         kill a job (its whole process group: TERM, --grace,
                        KILL) that runs longer than DUR:  --timeout 30s, --timeout 10
  --grace DUR           time between TERM and KILL (default 1s):
                        poolrun --timeout 1m --grace 10s ./server-test.sh ::: 1 2
  --retries N           attempts in all for a failing job:  --retries 3
  --halt SPEC           stop early: now|soon,fail|success|done=N|N%.
                        soon starts no new job and waits for running ones;
                        now kills running ones too:  --halt soon,fail=1,
                        --halt now,fail=10%  (0/1/2 are parallel's shorthands)

Records:
  --joblog, --jl FILE   write one TSV line per job (--joblog +FILE appends) with GNU parallel's columns:
                        Seq Host Starttime JobRuntime Send Receive Exitval Signal
                        Command (Exitval -1: killed by Signal):  --joblog jobs.tsv
  --resume              with --joblog: skip the jobs the log lists (same inputs):
                        poolrun --joblog jobs.tsv --resume ./step.sh :::: todo
  --resume-failed       with --joblog: rerun the jobs the log lists as failed,
                        skip its successes, run the rest:
                        poolrun --joblog jobs.tsv --resume-failed ./step.sh :::: todo
  --dry-run, --dryrun   print each job's command instead of running it:
                        poolrun --dry-run 'mv {} {.}.bak' ::: *.txt
  -t, --verbose         print each job's command on stderr as it starts
  -v                    print each job's command on stdout, before its output
  --process-slot-var VAR
                        each job gets VAR set to its slot - 1
  --workdir, --wd DIR   run the jobs in DIR:  poolrun --wd /srv/data ./ingest.sh ::: a b
  --delay DUR           start jobs at least DUR apart:  poolrun --delay 0.5 curl -O :::: urls
  --env VAR             accepted, as GNU parallel's (local jobs get the whole environment)
  --bar, --progress, --eta
                        progress bar with ETA on stderr:
                        poolrun --bar -a files.txt xz -9
  --nice N              run the jobs at niceness N:  poolrun --nice 10 xz -9 ::: *
  --load MAX            start a job only while at most MAX processes are
                        running (N% of the CPUs too):  --load 80%
  --memfree SIZE        start a job only while SIZE of memory is available
                        (k M G suffixes):  --memfree 2G

  --will-cite           accepted and ignored, as scripts written for GNU parallel pass it
  --group, --plain, --no-notice
                        accepted: grouped output is the default; there are
                        no profiles and no notice
  --number-of-cpus, --number-of-cores, --number-of-threads, --number-of-sockets
                        print the number of CPUs and exit
  --minversion V        print the GNU parallel version poolrun follows
                        (20221122); exit 255 if it is older than V
  $PARALLEL             options read before the command line's, as parallel:
                        PARALLEL="-k -j 4" poolrun ...
  -h, --help            this text:   poolrun --help | less
  --version             the version: poolrun --version

Exit status: 0 all jobs succeeded; 1-100 that many jobs failed (timed-out jobs
count, jobs poolrun itself stopped for --halt now or a signal do not); 101 more
than 100 failed; with --halt (GNU parallel's rules): the failing job's status
for fail=1, the percentage of the jobs that failed for fail=N%, 0 for success; 255 bad input (nothing was started), another error, or
stopped by SIGINT/SIGTERM (every job's process group is stopped first; SIGHUP
starts no more jobs and waits for the running ones), as GNU parallel; 141
stdout was closed (poolrun ... | head): stopped the same way.

Semaphore sets (poolrun sem):
  poolrun sem ls              list this user's poolrun sets
  poolrun sem ls etcd://HOST:PORT/[NAME]
                              list the etcd caps in use: size, holders, waiters
  poolrun sem rm NAME|ID      remove a set
  poolrun sem gc              remove private sets whose creator is gone, and
                              GNU sem semaphores that nobody holds
  poolrun sem run NAME -j N -- command...
                              take a slot of the machine-wide cap NAME (created
                              with N slots if new), run command, give it back
                              (GNU sem --fg); exits with the command's status;
                              NAME may be an etcd://HOST:PORT/NAME cap

Not supported (refused with a message): remote hosts and what goes with
them (-S, --sshlogin, --slf, --sshloginfile, --onall, --nonall, --transfer,
--transferfile, --tf, --return, --trc, --cleanup, --basefile, --bf,
--workdir-remote, --controlmaster, -M, --sshdelay, --filter-hosts): run a
poolrun on each host; perl expressions {= ... =}: use a shell command.

Personalities: called as sem (or with --semaphore) poolrun is GNU sem, a
counting semaphore for shell commands (sem -j 4 cmd; sem --wait; sem --help,
docs/sem.md); called as xargs it is xargs. Make the links with
  ln -s "$(command -v poolrun)" ~/bin/sem
  ln -s "$(command -v poolrun)" ~/bin/xargs

Environment: POOLRUN_LOG_LEVEL (error, warn [default], info, debug, trace)
sets what poolrun logs on stderr. Jobs get POOLRUN_SEQ and POOLRUN_SLOT.
`
