#!/usr/bin/env python3
"""Where W14's submit-to-start latency goes (perf/ring_wait.sh records the
input): reads `perf script --show-switch-events -F tid,time,event,trace` of a
run with the USDT probes submit, start, inject_batch and steal and the
scheduler's switch events.

The inject queue is FIFO and every W14 job is a foreign submit, so the k-th
task an inject_batch took is the next one in submit order: each task's
taker, and whether it went into the taker's ring (every task of a batch but
the first; every one, the first included, when the probe's third argument
says the batch was the periodic poll's), follow from the event order alone. For the tasks at or above
the p99 (or the threshold given in µs) it prints how many waited in a ring,
how long, how much of that time the ring's owner was preempted, and how many
a thief finally took.
"""
import bisect
import re
import sys
from collections import defaultdict, deque

ev = re.compile(r'^\s*(\d+)\s+([\d.]+):\s+(\S+?):?\s+(.*)$')
arg2 = re.compile(r'arg2=(\d+)')
arg3 = re.compile(r'arg3=(\d+)')
order = deque()            # submitted task keys not yet taken, in submit order
submit_t = {}              # key -> submit time
taken = {}                 # key -> (taker tid, time taken, went into the ring)
starts = []                # (submit time, start time, tid, (taker, time taken, into ring) or None)
switches = defaultdict(list)  # tid -> [(time, 'in'|'out', preempted)]
cut = 0                    # probe lines without their argument (a cut-off input)
for line in sys.stdin:
    m = ev.match(line)
    if not m:
        continue
    tid, t, name, rest = int(m.group(1)), float(m.group(2)), m.group(3), m.group(4)
    a2 = arg2.search(rest)
    if name.startswith('sdt_weft:') and a2 is None:
        cut += 1
        continue
    if name == 'sdt_weft:submit':
        k = a2.group(1)
        submit_t[k] = t
        order.append(k)
    elif name == 'sdt_weft:inject_batch':
        n = int(a2.group(1))
        a3 = arg3.search(rest)  # absent from a library built before the flag
        all_queued = a3 is not None and a3.group(1) != '0'
        for i in range(n):
            if not order:
                break
            taken[order.popleft()] = (tid, t, i > 0 or all_queued)
    elif name == 'sdt_weft:start':
        k = a2.group(1)
        if k in submit_t:  # keys are reused: resolve them now
            starts.append((submit_t.pop(k), t, tid, taken.pop(k, None)))
    elif name == 'PERF_RECORD_SWITCH':
        switches[tid].append((t, 'out' if rest.startswith('OUT') else 'in', 'preempt' in rest))
times = {tid: [x[0] for x in v] for tid, v in switches.items()}
if cut:
    print(f'ring_wait.py: {cut} probe line(s) without their arg2 left out (input cut off?)',
          file=sys.stderr)


def preempted(tid, a, b):
    """Seconds tid spent switched out by preemption within [a, b]."""
    v, ts = switches.get(tid, []), times.get(tid, [])
    i = bisect.bisect_right(ts, a) - 1
    off, out_at = 0.0, None
    if i >= 0 and v[i][1] == 'out' and v[i][2]:
        out_at = a
    for t, d, pre in v[i + 1:]:
        if t > b:
            break
        if d == 'out' and pre:
            out_at = t
        elif d == 'in' and out_at is not None:
            off += t - out_at
            out_at = None
    return off + (b - out_at if out_at is not None else 0.0)


lat = sorted(s - a for a, s, _, _ in starts)
if not lat:
    sys.exit('no tasks: were the probes recorded?')
p99 = lat[int(0.99 * (len(lat) - 1))]
thr = float(sys.argv[1]) * 1e-6 if len(sys.argv) > 1 else p99
in_ring = sum(1 for x in starts if x[3] and x[3][2])
tail = [x for x in starts if x[1] - x[0] >= thr]
held = [x for x in tail if x[3] and x[3][2]]
ring_us = [s - tk[1] for _, s, _, tk in held]
owner_pre = [preempted(tk[0], tk[1], s) for _, s, _, tk in held]
stolen = sum(1 for _, _, tid, tk in held if tid != tk[0])
wait_us = [s - a for a, s, _, _ in held]
print(f'tasks {len(lat)}, p50 {lat[len(lat) // 2] * 1e6:.0f} us, p99 {p99 * 1e6:.0f} us; '
      f'{100.0 * in_ring / len(lat):.0f}% of all tasks waited in a ring')
print(f'tail (>= {thr * 1e6:.0f} us): {len(tail)} tasks, {len(held)} '
      f'({100.0 * len(held) / max(len(tail), 1):.0f}%) of them waited in a ring')
if held:
    print(f'  those: {1e6 * sum(ring_us) / len(held):.0f} us in the ring on average '
          f'(of {1e6 * sum(wait_us) / len(held):.0f} us waiting in all), the ring\'s owner '
          f'preempted for {100.0 * sum(owner_pre) / max(sum(ring_us), 1e-12):.0f}% of it; '
          f'{stolen} ({100.0 * stolen / len(held):.0f}%) were run by a thief')
