/*
 * weft — the worker loop (lib/engine/worker_loop.c; docs/design.md E4).
 */
#ifndef WEFT_ENGINE_WORKER_LOOP_H
#define WEFT_ENGINE_WORKER_LOOP_H

/* The start routine of every engine thread; arg is its weft__eworker. */
void *weft__engine_worker_main(void *arg);

#endif /* WEFT_ENGINE_WORKER_LOOP_H */
