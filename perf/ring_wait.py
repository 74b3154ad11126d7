#!/usr/bin/env python3
"""Where submit-to-start latency goes: reads `perf script --show-switch-events
-F tid,time,event,trace,ip` of a run recorded with the USDT probes submit,
start (and optionally steal) plus --switch-events (perf/ring_wait.sh records
it), and splits the tasks by whether the worker that started a task was
switched out (preempted) between the task's submit and its start.

A task that waited past the tail threshold while the worker that finally
ran it sat preempted held it in that worker's ring: nobody else could run it.
"""
import re
import sys
from collections import defaultdict

ev = re.compile(r'^\s*(\d+)\s+([\d.]+):\s+(\S+):?\s+(.*)$')
submit, starts, switches = {}, [], defaultdict(list)
steals = defaultdict(list)  # steals[tid]: times  # switches[tid]: (t, 'in'|'out', preempt)
for line in sys.stdin:
    m = ev.match(line)
    if not m:
        continue
    tid, t, name, rest = int(m.group(1)), float(m.group(2)), m.group(3), m.group(4)
    if name.startswith('sdt_weft:submit'):
        a = re.search(r'arg2=(\d+)', rest)
        submit[a.group(1)] = t
    elif name.startswith('sdt_weft:start'):
        a = re.search(r'arg2=(\d+)', rest)
        ip = re.search(r'\((\w+)\)', rest).group(1)
        if a.group(1) in submit:
            starts.append((submit.pop(a.group(1)), t, tid, ip))
    elif name.startswith('sdt_weft:steal'):
        steals[tid].append(t)
    elif name == 'PERF_RECORD_SWITCH':
        d = 'out' if rest.startswith('OUT') else 'in'
        switches[tid].append((t, d, 'preempt' in rest))

lat = sorted(s - a for a, s, _, _ in starts)
if not lat:
    sys.exit('no tasks: were the probes recorded?')
p99 = lat[int(0.99 * (len(lat) - 1))]
thr = float(sys.argv[1]) * 1e-6 if len(sys.argv) > 1 else p99
import bisect
idx = {tid: [x[0] for x in v] for tid, v in switches.items()}


def preempted_between(tid, a, b):
    """Time tid spent switched out by preemption within [a, b]."""
    v, ts = switches.get(tid, []), idx.get(tid, [])
    i = bisect.bisect_right(ts, a) - 1
    off, out_at = 0.0, None
    if i >= 0 and v[i][1] == 'out' and v[i][2]:
        out_at = a
    for t, d, pre in v[max(i + 1, 0):]:
        if t > b:
            break
        if d == 'out' and pre:
            out_at = t
        elif d == 'in' and out_at is not None:
            off += t - out_at
            out_at = None
    if out_at is not None:
        off += b - out_at
    return off


n_tail = n_tail_pre = n_tail_stolen = 0
held = []
for a, s, tid, ip in starts:
    if s - a < thr:
        continue
    n_tail += 1
    off = preempted_between(tid, a, s)
    if off > 0.5 * (s - a):
        n_tail_pre += 1
        held.append(off)
        continue
    st = steals.get(tid, [])
    j = bisect.bisect_right(st, s) - 1
    if j >= 0 and st[j] >= a:
        n_tail_stolen += 1
print(f'tasks {len(lat)}, p50 {lat[len(lat)//2]*1e6:.0f} us, p99 {p99*1e6:.0f} us; '
      f'tail (>= {thr*1e6:.0f} us): {n_tail}')
print(f'tail tasks whose starting worker was preempted for more than half of the wait: '
      f'{n_tail_pre} ({100.0*n_tail_pre/max(n_tail,1):.0f}%), mean time preempted '
      f'{1e6*sum(held)/max(len(held),1):.0f} us')
print(f'other tail tasks started by a worker that stole after their submit: {n_tail_stolen} '
      f'({100.0*n_tail_stolen/max(n_tail,1):.0f}%)')
