/* weft — umbrella header. MIT licence, see LICENSE. */
#ifndef WEFT_H
#define WEFT_H

#include "version.h"
#include "common.h"
#include "work.h"
#include "worker.h"
#include "threadpool.h"
#if __has_include("reactor.h")
#include "reactor.h"
#endif
#if __has_include("deferred.h")
#include "deferred.h"
#endif
#if __has_include("threads.h")
#include "threads.h"
#endif

#endif /* WEFT_H */
