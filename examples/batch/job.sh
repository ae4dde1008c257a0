#!/bin/sh
# A sample job for poolrun: takes one word, works a little (a short sleep
# that varies by word, so jobs finish out of order), and reports.
#   poolrun -j 4 -k -a examples/batch/inputs.txt -- sh examples/batch/job.sh {}
word=$1
len=${#word}
sleep "0.$(( (len * 37) % 9 + 1 ))"
upper=$(printf '%s' "$word" | tr '[:lower:]' '[:upper:]')
echo "job ${POOLRUN_SEQ:-?} (slot ${POOLRUN_SLOT:-?}, pid $$): $word -> $upper, $len letters"
