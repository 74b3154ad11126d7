/*
 * weft — USDT probes (provider "weft") for perf, bpftrace and SystemTap.
 *
 *   WEFT_PROBE(submit,  pool, task)     a task was accepted
 *   WEFT_PROBE(start,   pool, task)     a worker begins a task
 *   WEFT_PROBE(finish,  pool, task)     a worker finished a task
 *   WEFT_PROBE(steal,   pool, n)        a thief moved n tasks
 *   WEFT_PROBE3(inject_batch, pool, n, queued_all)
 *                                       a worker took n injected tasks: the
 *                                       first to run, the rest into its ring;
 *                                       queued_all 1: all n into its ring,
 *                                       behind what it held (the periodic
 *                                       inject poll)
 *   WEFT_PROBE(park,    pool, worker)   a worker goes to sleep
 *   WEFT_PROBE(unpark,  pool, worker)   a worker is woken
 *   WEFT_PROBE(grow,    pool, n)        a thread was started (n = live count)
 *   WEFT_PROBE(shrink,  pool, n)        a thread exits (n = live count)
 *   WEFT_PROBE(valve,   pool, n)        growth refused at the valve (n = live)
 *   WEFT_PROBE(brake,   pool, g)        growth frozen (g = gain per thread, per mille of a share)
 *   WEFT_PROBE(stuck,   pool, n)        a strict-cap pool stuck at its cap (n = busy)
 *   WEFT_PROBE(create_failed, pool, ns) a thread creation failed (ns = backoff)
 *   WEFT_PROBE(heap_trim, pool, n)     a reaped thread trimmed the heap at the floor (n = live)
 *
 * sys/sdt.h (systemtap-sdt-dev) compiles each probe to a single nop plus an
 * ELF note: no cost when not traced. Without the header the probes vanish.
 */
#ifndef WEFT_PROBES_H
#define WEFT_PROBES_H

#if defined(WEFT_HAVE_SDT) && WEFT_HAVE_SDT
#include <sys/sdt.h>
#define WEFT_PROBE(name, a, b) DTRACE_PROBE2(weft, name, a, b)
#define WEFT_PROBE3(name, a, b, c) DTRACE_PROBE3(weft, name, a, b, c)
#else
#define WEFT_PROBE(name, a, b) ((void)(a), (void)(b))
#define WEFT_PROBE3(name, a, b, c) ((void)(a), (void)(b), (void)(c))
#endif

#endif /* WEFT_PROBES_H */
