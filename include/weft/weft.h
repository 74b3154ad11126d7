/**
 * @file
 * @brief weft — umbrella header: includes every public header. MIT licence,
 * see LICENSE.
 *
 * @mainpage weft API reference
 *
 * Twisted's thread API for C on a lock-free work-stealing runtime. Include
 * weft/weft.h; the headers, from the bottom up:
 *
 *   - weft/common.h — error codes (#weft_errno), callback types, the allocator hook;
 *   - weft/work.h — intrusive work requests (#weft_work);
 *   - weft/worker.h — the worker layer: IWorker, ThreadWorker, LockWorker,
 *     Team, pool();
 *   - weft/threadpool.h — ThreadPool;
 *   - weft/lane.h — lanes: classes of work with their own limits in one pool;
 *   - weft/reactor.h — the reactor: callFromThread, callInThread, timers,
 *     system event triggers, use from a foreign event loop;
 *   - weft/deferred.h — Deferred and Failure;
 *   - weft/threads.h — deferToThread, blockingCallFromThread;
 *   - weft/context.h — the submitter's context, carried with its work;
 *   - weft/version.h — version macros.
 *
 * Every fallible function returns 0 or a negative WEFT_E* code; each
 * function's page lists the codes it returns.
 */
#ifndef WEFT_H
#define WEFT_H

#include "version.h"
#include "common.h"
#include "work.h"
#include "worker.h"
#include "threadpool.h"
#include "lane.h"
#include "context.h"
#include "reactor.h"
#include "deferred.h"
#include "threads.h"

#endif /* WEFT_H */
