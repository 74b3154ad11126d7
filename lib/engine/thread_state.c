/* weft — the per-thread block of lib/engine/thread_state.h. */
#include "engine/thread_state.h"

#include "engine/node_cache.h"

_Thread_local weft__thread_state weft__tls __attribute__((tls_model("initial-exec"))) = {
    .node_cache = &weft__node_no_cache,
    .route = 0,
};
