#!/usr/bin/env python3
"""Reads `perf script -F comm,tid,cpu,time,ip,sym` of a --sample-cpu
recording (perf/cpu_map.sh) and prints, per window, the samples of each
thread on each CPU (the main thread is "main", pool threads W1, W2, ... in
order of first appearance), then the main thread's top functions in windows
where one pool thread ran alone against windows where two or more shared a
CPU. The benchmark makes a new pool for each repetition, so new thread
names mark where a repetition begins."""
import collections
import re
import sys

try:
    WINDOW = float(sys.argv[1]) / 1000.0 if len(sys.argv) > 1 else 0.02
except ValueError:
    WINDOW = 0.0
if not WINDOW > 0:  # also NaN
    sys.exit("cpu_map.py: the window (ms) must be a number > 0, not %r" % sys.argv[1])
LINE = re.compile(r"^\s*(.+?)\s+(\d+)\s+\[(\d+)\]\s+([\d.]+):\s+[0-9a-f]+\s+(\S+)")

rows = []
for line in sys.stdin:
    m = LINE.match(line)
    if m:
        comm, tid, cpu, t, sym = m.groups()
        rows.append((float(t), int(tid), int(cpu), sym, comm))
if not rows:
    sys.exit("cpu_map.py: no samples (was perf record run with --sample-cpu?)")
t0 = rows[0][0]
main = rows[0][1]  # the process's first sample is the main thread's
names = {main: "main"}
for _, tid, _, _, comm in rows:
    if tid not in names:
        names[tid] = "W%d" % (len(names))

windows = collections.defaultdict(collections.Counter)
for t, tid, cpu, _, _ in rows:
    windows[int((t - t0) / WINDOW)][(names[tid], cpu)] += 1

full = WINDOW * 1999  # samples of one CPU busy for a whole window
print("window (s)  samples per thread@cpu (a CPU busy all window: about %d)" % round(full))
kind = {}
for k in sorted(windows):
    c = windows[k]
    print("%8.2f   %s" % (k * WINDOW, "  ".join("%s@%d %d" % (n, cpu, v) for (n, cpu), v in sorted(c.items()))))
    # Pool threads with a real share of the window (a quarter of a CPU).
    busy = collections.Counter()
    for (n, cpu), v in c.items():
        if n != "main" and v >= full / 4:
            busy[cpu] += 1
    if busy:
        kind[k] = "shared" if max(busy.values()) >= 2 else "alone"

def top(which):
    c = collections.Counter()
    for t, tid, _, sym, _ in rows:
        if tid == main and kind.get(int((t - t0) / WINDOW)) == which:
            c[sym] += 1
    n = sum(c.values())
    if n:
        print("main thread in windows where pool threads %s a CPU (%d samples):" %
              ("shared" if which == "shared" else "each had", n))
        print("   " + ", ".join("%s %d%%" % (s, round(100 * v / n)) for s, v in c.most_common(8)))

top("alone")
top("shared")

