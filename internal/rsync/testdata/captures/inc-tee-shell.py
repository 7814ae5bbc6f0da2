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
