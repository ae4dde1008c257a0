#!/usr/bin/env bash
# bench/run.sh NAME [args...]: runs bench/NAME.sh, a side-by-side comparison
# with a peer that prints a last line containing ratio=.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
name=${1:-}
if [ -z "$name" ] || [ ! -f "$here/$name.sh" ]; then
  echo "usage: bench/run.sh NAME   (NAME: $(cd "$here" && ls *.sh | grep -v '^run.sh$' | sed 's/\.sh$//' | tr '\n' ' '))" >&2
  exit 2
fi
shift
exec bash "$here/$name.sh" "$@"
