/*
 * weft — weft_failure: an error code, a message and an optional payload,
 * refcounted (Twisted's Failure without the traceback).
 *
 * Contract: ref/unref from any thread, concurrently (an atomic count);
 * the fields are immutable after creation, so reads need no ordering beyond
 * the hand-off that gave the reader its reference.
 *
 * Out of memory never yields NULL: a static, immortal WEFT_ENOMEM failure
 * stands in, so that an error path never needs a second error path.
 */
#include <string.h>

#include "base/alloc.h"
#include "base/atomic.h"
#include "weft/deferred.h"

struct weft_failure {
  atomic_long refs;      /* -1: static, never freed */
  int code;
  const char *message;   /* points into the same allocation, or static */
  void *data;
  weft_free_data_fn free_data;
};

static weft_failure g_nomem = {
    .refs = -1, .code = WEFT_ENOMEM, .message = "out of memory", .data = NULL, .free_data = NULL};

WEFT_API weft_failure *weft_failure_new_data(int code, const char *message, void *data,
                                             weft_free_data_fn free_data) {
  if (code >= 0) code = WEFT_EFAILED;
  if (message == NULL) message = weft_strerror(code);
  size_t len = strlen(message) + 1;
  weft_failure *f = weft__malloc(sizeof *f + len);
  if (f == NULL) {
    if (free_data) free_data(data);
    return &g_nomem;
  }
  char *text = (char *)(f + 1);
  memcpy(text, message, len);
  atomic_init(&f->refs, 1);
  f->code = code;
  f->message = text;
  f->data = data;
  f->free_data = free_data;
  weft__object_created(); /* weft_replace_allocator must see live failures */
  return f;
}

WEFT_API weft_failure *weft_failure_new(int code, const char *message) {
  return weft_failure_new_data(code, message, NULL, NULL);
}

WEFT_API weft_failure *weft_failure_ref(weft_failure *f) {
  if (f && f != &g_nomem) weft__fetch_add_relaxed(&f->refs, 1); /* a holder already has one */
  return f;
}

WEFT_API void weft_failure_unref(weft_failure *f) {
  if (f == NULL || f == &g_nomem) return;
  /* acq_rel: release our uses of f before the count drops; the last holder's
   * acquire sees every other holder's uses before it frees (the usual
   * refcount pairing with the other holders' fetch_sub). */
  if (weft__fetch_sub_acq_rel(&f->refs, 1) != 1) return;
  if (f->free_data) f->free_data(f->data);
  weft__free(f);
  weft__object_destroyed();
}

WEFT_API int weft_failure_code(const weft_failure *f) { return f ? f->code : WEFT_EINVAL; }
WEFT_API const char *weft_failure_message(const weft_failure *f) {
  return f ? f->message : "(no failure)";
}
WEFT_API void *weft_failure_data(const weft_failure *f) { return f ? f->data : NULL; }
WEFT_API int weft_failure_check(const weft_failure *f, int code) {
  return f != NULL && f->code == code;
}
