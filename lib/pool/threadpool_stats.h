/* weft — dumpStats' per-worker lines (lib/pool/threadpool_stats.c). */
#ifndef WEFT_POOL_THREADPOOL_STATS_H
#define WEFT_POOL_THREADPOOL_STATS_H

#include "weft/threadpool.h"

/* One line per worker slot, to sink. */
void weft__threadpool_dump_workers(weft_threadpool *tp, void (*sink)(void *ctx, const char *line),
                                   void *ctx);

#endif /* WEFT_POOL_THREADPOOL_STATS_H */
