#!/bin/bash
# Incremental-recursion pull captures (stock rsync client, server sender).
# Usage: make-inc-captures.sh OUTDIR [WORKDIR]   (RSYNC, RSYNC327 override the binaries)
# Run as root (the tree is chowned to 0:0). The tests decode OUTDIR/*.s2c.bin.
set -euo pipefail
OUT=$(mkdir -p "$1" && cd "$1" && pwd)
RSYNC=${RSYNC:-/usr/bin/rsync}
RSYNC327=${RSYNC327:-/root/.cache/terraform-provider-rsync/rsync-3.2.7/usr/bin/rsync}
WORK=${2:-/tmp/increcv-captures}; rm -rf "$WORK"; mkdir -p "$WORK"
# The relay: the "remote shell" runs the server locally and tees both directions
# (the same relay as /work/shared/protocol/captures/make-captures.sh).
cat > "$WORK/tee-shell" <<'PY'
#!/usr/bin/env python3
import os, sys, subprocess, threading
out = os.environ["CAPTURE_OUT"]; name = os.environ["CAPTURE_NAME"]
args = sys.argv[1:]
while len(args) >= 2 and args[0] == "-l":
    args = args[2:]
args = args[1:]                      # drop HOST
drop = os.environ.get("CAPTURE_DROP_CAPS", "")
if drop:
    for i, a in enumerate(args):
        if a.startswith("-") and not a.startswith("--") and "e." in a:
            head, caps = a.split("e.", 1)
            args[i] = head + "e." + "".join(c for c in caps if c not in drop)
            break
cmdline = " ".join(args)
with open(os.path.join(out, name + ".argv.txt"), "w") as f:
    f.write(cmdline + "\n")
p = subprocess.Popen(["/bin/sh", "-c", cmdline], stdin=subprocess.PIPE,
                     stdout=subprocess.PIPE, bufsize=0)
lock = threading.Lock()
order = open(os.path.join(out, name + ".order.txt"), "w")
c2s = open(os.path.join(out, name + ".c2s.bin"), "wb")
s2c = open(os.path.join(out, name + ".s2c.bin"), "wb")
pos = {"c2s": 0, "s2c": 0}
def note(d, n):
    with lock:
        order.write("%s %d %d\n" % (d, pos[d], n)); pos[d] += n
def up():
    try:
        while True:
            b = os.read(0, 65536)
            if not b:
                break
            note("c2s", len(b)); c2s.write(b); c2s.flush()
            p.stdin.write(b); p.stdin.flush()
    except (BrokenPipeError, OSError):
        pass
    try:
        p.stdin.close()
    except OSError:
        pass
def down():
    fd = p.stdout.fileno()
    while True:
        b = os.read(fd, 65536)
        if not b:
            break
        note("s2c", len(b)); s2c.write(b); s2c.flush()
        os.write(1, b)
threading.Thread(target=up, daemon=True).start()
t = threading.Thread(target=down); t.start(); t.join()
rc = p.wait()
with lock:
    order.close(); c2s.close(); s2c.close()
os._exit(rc)
PY
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
