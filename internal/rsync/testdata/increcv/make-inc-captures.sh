#!/bin/bash
# Incremental-recursion pull captures (stock rsync client, server sender).
# Usage: make-inc-captures.sh OUTDIR [WORKDIR]   (RSYNC, RSYNC327 override the binaries)
# Run as root (the tree is chowned to 0:0). The tests decode OUTDIR/*.s2c.bin.
set -euo pipefail
OUT=$(mkdir -p "$1" && cd "$1" && pwd)
RSYNC=${RSYNC:-/usr/bin/rsync}
RSYNC327=${RSYNC327:-/root/.cache/terraform-provider-rsync/rsync-3.2.7/usr/bin/rsync}
WORK=${2:-/tmp/increcv-captures}; rm -rf "$WORK"; mkdir -p "$WORK"
# The relay: the "remote shell" runs the server locally and tees both
# directions; the push captures' relay (../captures/inc-tee-shell.py, the
# relay of /work/shared/protocol/captures/make-captures.sh).
HERE=$(cd "$(dirname "$0")" && pwd)
printf '#!/bin/sh\nexec python3 %s "$@"\n' "$HERE/../captures/inc-tee-shell.py" > "$WORK/tee-shell"
chmod 755 "$WORK/tee-shell"
export TZ=UTC LC_ALL=C; umask 022
mk() { # nested tree with empty dirs
  local d=$1
  mkdir -p "$d/a/b/c" "$d/a/empty" "$d/d" "$d/e/f"
  printf 'top\n' > "$d/top.txt"; printf 'ab\n' > "$d/a/ab.txt"; printf 'abc\n' > "$d/a/b/c/abc.txt"
  printf 'dd\n' > "$d/d/dd.txt"; printf 'ef\n' > "$d/e/f/ef.txt"; ln -s ../top.txt "$d/a/link"
  find "$d" -exec chown -h 0:0 {} + ; find "$d" -type f -exec chmod 0644 {} + ; find "$d" -type d -exec chmod 0755 {} +
  find "$d" -exec touch -h -d @1600000000 {} +
}
mk "$WORK/src"
cap() { local name=$1; shift; ( cd "$WORK" && CAPTURE_OUT="$OUT" CAPTURE_NAME="$name" "$@" ) ; echo "$name rc=$?"; }
SH=$WORK/tee-shell
cap inc-pull "$RSYNC" -a -e "$SH" "localhost:$WORK/src/" "$WORK/d1/"
cap inc-pull-c "$RSYNC" -ac -e "$SH" "localhost:$WORK/src/" "$WORK/d2/"
mkdir -p "$WORK/d3/a/gone/deep" "$WORK/d3/x"; echo x > "$WORK/d3/a/gone/deep/f"; echo y > "$WORK/d3/x/y"; mkdir -p "$WORK/d3/a/b"; echo z > "$WORK/d3/a/b/zz"
cap inc-pull-delete "$RSYNC" -a --delete -e "$SH" "localhost:$WORK/src/" "$WORK/d3/"
cap inc-pull-srv327 "$RSYNC" -a --rsync-path="$RSYNC327" -e "$SH" "localhost:$WORK/src/" "$WORK/d4/"
