/*
 * weft — weft_team_* entry points: argument checks, then the implementation's
 * table (lib/workers/team_impl.h). The generic Team lives in lib/workers/team.c, the
 * engine-backed one (weft_pool) in lib/pool/pool_team.c.
 */
#include "workers/team_impl.h"

WEFT_API int weft_team_do(weft_team *t, weft_fn fn, void *arg) {
  if (!t || !fn) return WEFT_EINVAL;
  return t->vt->do_work(t, fn, arg);
}

WEFT_API int weft_team_grow(weft_team *t, int n) {
  if (!t || n < 0) return WEFT_EINVAL;
  return t->vt->grow(t, n);
}

WEFT_API int weft_team_shrink(weft_team *t, int n) {
  if (!t) return WEFT_EINVAL;
  return t->vt->shrink(t, n < 0 ? -1 : n);
}

WEFT_API int weft_team_quit(weft_team *t) {
  if (!t) return WEFT_EINVAL;
  return t->vt->quit(t);
}

WEFT_API int weft_team_statistics_get(weft_team *t, weft_team_statistics *out) {
  if (!t || !out) return WEFT_EINVAL;
  return t->vt->statistics(t, out);
}

WEFT_API int weft_team_destroy(weft_team *t) {
  if (!t) return WEFT_EINVAL;
  return t->vt->destroy(t);
}
