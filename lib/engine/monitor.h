/*
 * weft — the elastic pool's monitor (docs/design.md E9.2;
 * lib/engine/monitor.c).
 *
 * Contract: weft__engine_ensure_monitor (lib/engine/park.c; a worker's
 * start and idle) starts it through e->monitor_start, disarmed, if none
 * runs; weft__engine_arm_monitor (a saturation) arms it, starting it first
 * if none runs, and wakes it; both start it under e->mu. It runs on its
 * own thread, stays while the pool has a thread and leaves (clearing
 * e->monitor under e->mu) a keep-alive after it disarmed with none; weft__engine_monitor_stop is called by the engine's
 * stop (or stop with a deadline, lib/engine/stop_deadline.c) after close,
 * and joins it; a later call finds no monitor and returns.
 */
#ifndef WEFT_ENGINE_MONITOR_H
#define WEFT_ENGINE_MONITOR_H

#include "engine/core.h"

/* Start the monitor thread (under e->mu). 0, or WEFT_ENOMEM / WEFT_EAGAIN:
 * the pool then runs without one until a later arm tries again. */
int weft__engine_monitor_start(weft__engine *e);
/* Stop and join the monitor thread, if any; its grants are returned. */
void weft__engine_monitor_stop(weft__engine *e);
/* The CPU count the running monitor paces its thread creation by (its
 * token bucket: burst 4 x CPUs, refill 100 x CPUs a second), or 0 when
 * none runs. For the tests; takes e->mu. */
int weft__engine_monitor_cpus(weft__engine *e);

#endif /* WEFT_ENGINE_MONITOR_H */
