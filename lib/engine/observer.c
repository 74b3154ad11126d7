/*
 * The observer hook (observer.h): one process-wide pointer, NULL unless a
 * test sets it.
 */
#include "engine/observer.h"

_Atomic(weft__observer_fn) weft__observer;

void weft__observer_set(weft__observer_fn fn) {
  weft__store_release(&weft__observer, fn); /* pairs with weft__observe's acquire */
}
