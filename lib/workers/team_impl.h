/*
 * weft — the private interface behind weft_team_*: a Team has two
 * implementations, the generic port of Twisted's Team (lib/workers/team.c: any
 * coordinator, any workers) and the engine-backed pool (lib/pool/pool_team.c,
 * weft_pool()). weft_team_* in lib/workers/team_dispatch.c dispatch through this table.
 */
#ifndef WEFT_TEAM_IMPL_H
#define WEFT_TEAM_IMPL_H

#include "weft/worker.h"

typedef struct weft__team_vtbl {
  int (*do_work)(weft_team *t, weft_fn fn, void *arg);
  int (*grow)(weft_team *t, int n);
  int (*shrink)(weft_team *t, int n); /* n < 0: all */
  int (*quit)(weft_team *t);
  int (*statistics)(weft_team *t, weft_team_statistics *out);
  int (*destroy)(weft_team *t);
} weft__team_vtbl;

struct weft_team {
  const weft__team_vtbl *vt;
};

#endif /* WEFT_TEAM_IMPL_H */
