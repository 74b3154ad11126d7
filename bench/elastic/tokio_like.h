/*
 * weft_elastic_bench — tokio_like: a C emulation of Tokio's blocking pool
 * (tokio-rs/tokio, tokio/src/runtime/blocking/pool.rs). tokio_like.c says
 * what is kept and what is left out.
 *
 * Thread-safety: tokio_like_spawn from any thread, a pool thread included;
 * tokio_like_destroy once, from a thread that is not one of the pool's: it
 * runs what is queued and joins every thread.
 */
#ifndef WEFT_ELASTIC_TOKIO_LIKE_H
#define WEFT_ELASTIC_TOKIO_LIKE_H

#include "eb.h"

typedef struct tokio_like tokio_like;

/* thread_cap: Tokio's max_blocking_threads (512); keep_alive_ms: its
 * thread_keep_alive (10 000). No thread until the first spawn. */
int tokio_like_create(tokio_like **out, int thread_cap, long keep_alive_ms);
/* 0, -ENOMEM, -ESHUTDOWN, or the creation error when no thread exists. */
int tokio_like_spawn(tokio_like *p, eb_fn fn, void *arg);
void tokio_like_destroy(tokio_like *p);

#endif
