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
#include <stdbool.h>
#include <string.h>

#include "base/alloc.h"
#include "base/atomic.h"
#include "loop/completion.h"
#include "weft/deferred.h"

struct weft_failure {
  atomic_long refs;      /* -1: static, never freed */
  int code;
  const char *message;   /* the same allocation, or static; NULL: weft_strerror(code) */
  void *data;
  weft_free_data_fn free_data;
};

static weft_failure g_nomem = {
    .refs = -1, .code = WEFT_ENOMEM, .message = "out of memory", .data = NULL, .free_data = NULL};

/* The same for each of the library's own codes, for the failures it makes
 * itself (weft__failure_of): a cancel's WEFT_ECANCELED, a callback's raised
 * code. Index -code - 1; the message, NULL, reads as weft_strerror(code). */
#define STATIC_FAILURE(c) \
  {.refs = -1, .code = (c), .message = NULL, .data = NULL, .free_data = NULL}
static weft_failure g_coded[] = {
    STATIC_FAILURE(WEFT_EINVAL),    STATIC_FAILURE(WEFT_ENOMEM),   STATIC_FAILURE(WEFT_EQUIT),
    STATIC_FAILURE(WEFT_EAGAIN),    STATIC_FAILURE(WEFT_EBUSY),    STATIC_FAILURE(WEFT_EDEADLK),
    STATIC_FAILURE(WEFT_ECANCELED), STATIC_FAILURE(WEFT_EALREADY), STATIC_FAILURE(WEFT_ETIMEDOUT),
    STATIC_FAILURE(WEFT_ESHUTDOWN), STATIC_FAILURE(WEFT_EFAILED),  STATIC_FAILURE(WEFT_ENOTSUP),
    STATIC_FAILURE(WEFT_ESTATE),
};
#undef STATIC_FAILURE
_Static_assert(sizeof g_coded / sizeof g_coded[0] == -WEFT_ESTATE, "one per code");

/* Static (immortal): refs -1, never counted. Relaxed: a holder's reference
 * keeps a counted failure's refs >= 1 while it looks. */
static bool is_static(const weft_failure *f) {
  return weft__load_relaxed((atomic_long *)&f->refs) < 0;
}

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

/* No memory for a failure of the library's own (a WEFT_E* code, no
 * payload): the static one of that code, so the code the headers promise
 * (a cancel's WEFT_ECANCELED, the code a callback raised) is kept; a code
 * of the caller's gets the WEFT_ENOMEM one, as from weft_failure_new. */
weft_failure *weft__failure_of(int code, const char *message) {
  weft_failure *f = weft_failure_new(code, message);
  if (code >= 0) code = WEFT_EFAILED;
  if (WEFT_UNLIKELY(f == &g_nomem) && code >= WEFT_ESTATE) f = &g_coded[-code - 1];
  return f;
}

WEFT_API weft_failure *weft_failure_ref(weft_failure *f) {
  if (f && !is_static(f)) weft__fetch_add_relaxed(&f->refs, 1); /* a holder already has one */
  return f;
}

WEFT_API void weft_failure_unref(weft_failure *f) {
  if (f == NULL || is_static(f)) return;
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
  if (f == NULL) return "(no failure)";
  return f->message ? f->message : weft_strerror(f->code);
}
WEFT_API void *weft_failure_data(const weft_failure *f) { return f ? f->data : NULL; }
WEFT_API int weft_failure_check(const weft_failure *f, int code) {
  return f != NULL && f->code == code;
}
