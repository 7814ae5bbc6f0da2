#!/bin/bash
# Regenerate the incremental-recursion push captures (inc-push*): the
# stock client (RSYNC, default /usr/bin/rsync) pushing with -a --delete
# (and -aH) to `rsync --server` through a relay that records both
# directions (inc-tee-shell.py, the relay of
# ../../../../../shared/protocol/captures/make-captures.sh). Run as root:
# the tree is root-owned, as TestIncCaptureLists rebuilds it.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
RSYNC=${RSYNC:-/usr/bin/rsync}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
umask 022
export TZ=UTC LC_ALL=C
cd "$WORK"
mkdir -p src/a/a1 src/a/a2 src/b src/empty
printf 'x\n' > src/top.txt; printf 'y\n' > src/a/f1; printf 'z\n' > src/a/a1/g; printf 'w\n' > src/b/h
ln -s top.txt src/lnk; ln src/a/f1 src/b/hl
find src -exec touch -h -d @1577836800 {} +
for name in inc-push inc-push-H; do
  rm -rf dst; mkdir -p dst/old; echo o > dst/old/x; echo e > dst/extra
  flags=-a; [ "$name" = inc-push-H ] && flags=-aH
  CAPTURE_OUT=$HERE CAPTURE_NAME=$name "$RSYNC" $flags --delete -e "python3 $HERE/inc-tee-shell.py" src/ localhost:"$WORK/dst/"
done
rm -f "$HERE"/inc-push*.order.txt
