/*
 * weft — what the pool layer's other files need of a weft_threadpool: its
 * engine. struct weft_threadpool itself stays private to threadpool.c.
 */
#ifndef WEFT_POOL_THREADPOOL_IMPL_H
#define WEFT_POOL_THREADPOOL_IMPL_H

#include "engine/engine.h"
#include "weft/threadpool.h"

/* The engine under tp (never NULL for a created pool). */
weft__engine *weft__threadpool_engine(const weft_threadpool *tp);

#endif /* WEFT_POOL_THREADPOOL_IMPL_H */
