/* weft — error strings, version, internal assertion failure. */
#include <stdio.h>
#include <stdlib.h>

#include "base/debug.h"
#include "weft/common.h"
#include "weft/version.h"

#define WEFT_ERRNO_MAP(X)                                                      \
  X(OK, "success")                                                             \
  X(EINVAL, "invalid argument")                                                \
  X(ENOMEM, "out of memory")                                                   \
  X(EQUIT, "already quit (the worker, team or pool was quit or stopped)")     \
  X(EAGAIN, "a thread could not be created")                                   \
  X(EBUSY, "resource busy")                                                    \
  X(EDEADLK, "the call would deadlock")                                        \
  X(ECANCELED, "operation cancelled: the work will never run")                 \
  X(EALREADY, "already called: a Deferred can fire only once")                 \
  X(ETIMEDOUT, "timed out")                                                    \
  X(ESHUTDOWN, "the reactor is stopping or stopped")                           \
  X(EFAILED, "the work function reported a failure")                           \
  X(ENOTSUP, "not supported")                                                  \
  X(ESTATE, "the object is in the wrong state for this call")

WEFT_API const char *weft_strerror(int err) {
  switch (err) {
#define X(name, text) case WEFT_##name: return text;
    WEFT_ERRNO_MAP(X)
#undef X
  }
  return "unknown error";
}

WEFT_API const char *weft_err_name(int err) {
  switch (err) {
#define X(name, text) case WEFT_##name: return "WEFT_" #name;
    WEFT_ERRNO_MAP(X)
#undef X
  }
  return "WEFT_E?";
}

WEFT_API const char *weft_version(void) { return WEFT_VERSION_STRING; }
WEFT_API unsigned weft_version_hex(void) { return WEFT_VERSION_HEX; }

void weft__assert_fail(const char *cond, const char *file, int line, const char *func) {
  fprintf(stderr, "weft: internal invariant violated: %s (%s:%d, %s)\n", cond, file, line, func);
  abort();
}
