/*
 * weft — the one internal atomics header (mimalloc's habit): every atomic
 * operation names its memory order, so a reader never has to guess it.
 *
 * Plain C11 <stdatomic.h>. We do not use ck_pr here: its inline assembly is
 * invisible to ThreadSanitizer, and the suite must run TSan-clean; C11
 * atomics compile to the same instructions on x86-64.
 *
 * Rule of the code base: every use of an order stronger than relaxed, and
 * every fence, carries a comment saying what it orders and which operation on
 * the other side it pairs with.
 */
#ifndef WEFT_ATOMIC_H
#define WEFT_ATOMIC_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define WEFT_CACHELINE 64
#define WEFT_CACHE_ALIGNED _Alignas(WEFT_CACHELINE)

#define weft__load_relaxed(p) atomic_load_explicit((p), memory_order_relaxed)
#define weft__load_acquire(p) atomic_load_explicit((p), memory_order_acquire)
#define weft__load_seq_cst(p) atomic_load_explicit((p), memory_order_seq_cst)
#define weft__store_relaxed(p, v) atomic_store_explicit((p), (v), memory_order_relaxed)
#define weft__store_release(p, v) atomic_store_explicit((p), (v), memory_order_release)
#define weft__store_seq_cst(p, v) atomic_store_explicit((p), (v), memory_order_seq_cst)

/* A counter with one writing thread (statistics read by others with relaxed
 * loads): a load and a store, not a locked read-modify-write. */
#define weft__add_single_writer(p, n) \
  weft__store_relaxed((p), weft__load_relaxed(p) + (n))

#define weft__xchg_relaxed(p, v) atomic_exchange_explicit((p), (v), memory_order_relaxed)
#define weft__xchg_acquire(p, v) atomic_exchange_explicit((p), (v), memory_order_acquire)
#define weft__xchg_release(p, v) atomic_exchange_explicit((p), (v), memory_order_release)
#define weft__xchg_acq_rel(p, v) atomic_exchange_explicit((p), (v), memory_order_acq_rel)
#define weft__xchg_seq_cst(p, v) atomic_exchange_explicit((p), (v), memory_order_seq_cst)

#define weft__fetch_add_relaxed(p, v) atomic_fetch_add_explicit((p), (v), memory_order_relaxed)
#define weft__fetch_add_release(p, v) atomic_fetch_add_explicit((p), (v), memory_order_release)
#define weft__fetch_add_acq_rel(p, v) atomic_fetch_add_explicit((p), (v), memory_order_acq_rel)
#define weft__fetch_add_seq_cst(p, v) atomic_fetch_add_explicit((p), (v), memory_order_seq_cst)
#define weft__fetch_sub_relaxed(p, v) atomic_fetch_sub_explicit((p), (v), memory_order_relaxed)
#define weft__fetch_sub_release(p, v) atomic_fetch_sub_explicit((p), (v), memory_order_release)
#define weft__fetch_sub_acq_rel(p, v) atomic_fetch_sub_explicit((p), (v), memory_order_acq_rel)
#define weft__fetch_sub_seq_cst(p, v) atomic_fetch_sub_explicit((p), (v), memory_order_seq_cst)
#define weft__fetch_or_relaxed(p, v) atomic_fetch_or_explicit((p), (v), memory_order_relaxed)
#define weft__fetch_or_release(p, v) atomic_fetch_or_explicit((p), (v), memory_order_release)
#define weft__fetch_or_acq_rel(p, v) atomic_fetch_or_explicit((p), (v), memory_order_acq_rel)
#define weft__fetch_or_seq_cst(p, v) atomic_fetch_or_explicit((p), (v), memory_order_seq_cst)
#define weft__fetch_and_acq_rel(p, v) atomic_fetch_and_explicit((p), (v), memory_order_acq_rel)

/* Strong CAS; on failure *expected is updated (C11 semantics). */
#define weft__cas_relaxed(p, e, d) \
  atomic_compare_exchange_strong_explicit((p), (e), (d), memory_order_relaxed, memory_order_relaxed)
#define weft__cas_acquire(p, e, d) \
  atomic_compare_exchange_strong_explicit((p), (e), (d), memory_order_acquire, memory_order_relaxed)
#define weft__cas_release(p, e, d) \
  atomic_compare_exchange_strong_explicit((p), (e), (d), memory_order_release, memory_order_relaxed)
#define weft__cas_acq_rel(p, e, d) \
  atomic_compare_exchange_strong_explicit((p), (e), (d), memory_order_acq_rel, memory_order_acquire)
#define weft__cas_seq_cst(p, e, d) \
  atomic_compare_exchange_strong_explicit((p), (e), (d), memory_order_seq_cst, memory_order_seq_cst)
#define weft__cas_weak_acq_rel(p, e, d) \
  atomic_compare_exchange_weak_explicit((p), (e), (d), memory_order_acq_rel, memory_order_acquire)

#define weft__fence_seq_cst() atomic_thread_fence(memory_order_seq_cst)
#define weft__fence_acquire() atomic_thread_fence(memory_order_acquire)
#define weft__fence_release() atomic_thread_fence(memory_order_release)
/* A compiler barrier: the fast side of an asymmetric fence (lib/base/membarrier.h),
 * whose slow side makes this thread's CPU execute the hardware barrier. */
#define weft__fence_signal() atomic_signal_fence(memory_order_seq_cst)

/* Spin-wait hint. */
static inline void weft__cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield" ::: "memory");
#endif
}

#define WEFT_LIKELY(x) __builtin_expect(!!(x), 1)
#define WEFT_UNLIKELY(x) __builtin_expect(!!(x), 0)

/* An empty basic asm (implicitly volatile, emits nothing; not a memory
 * barrier and not needed as one). gcc does not merge the statements on its
 * two sides: between argument tests it keeps if-combining from turning them
 * into setcc/or. (Between two adjacent stores of code addresses it kept the
 * SLP vectoriser from pairing them into SSE, six instructions for two
 * stores; the pool's submit paths now copy such a pair from memory instead,
 * lib/pool/threadpool.c tp_set_ops.) Only an instruction count matters
 * here, never correctness. */
#if defined(__GNUC__) && !defined(__clang__)
#define WEFT__KEEP_APART() __asm__("")
#else
#define WEFT__KEEP_APART() ((void)0)
#endif

/* An empty asm (emits nothing; no barrier) after which gcc no longer knows
 * that the pointer p holds what it held before, so it does not share an
 * address computed from it with the code before. On a cold branch: gcc 12
 * computes the address of an atomic RMW whose flags are branched on (lock
 * add; js) into a register with a lea when the cold branch uses the same
 * address again, one instruction on the path that is always taken. Only an
 * instruction count matters here, never correctness. */
#if defined(__GNUC__) && !defined(__clang__)
#define WEFT__FORGET(p) __asm__("" : "+r"(p))
#else
#define WEFT__FORGET(p) ((void)0)
#endif

#endif /* WEFT_ATOMIC_H */
