/*
 * weft — process-wide memory barriers: membarrier(2) for asymmetric fences.
 *
 * An asymmetric Dekker: a fast side that runs often keeps only a compiler
 * barrier (weft__fence_signal) where a seq_cst fence would be, and the rare
 * slow side calls weft__membarrier, which returns once every thread of the
 * process has executed a full memory barrier (the running ones through an
 * IPI, MEMBARRIER_CMD_PRIVATE_EXPEDITED; the others were switched out, which
 * is one). Either the fast side's barrier came after its own read, and its
 * earlier store is visible to the slow side's later reads, or it came before,
 * and the fast side's read sees what the slow side stored before calling.
 * liburcu's urcu-memb flavour and folly's asymmetric barriers are this
 * pattern; Dice, Huang and Yang, "Asymmetric Dekker Synchronization", its
 * source. weft uses it for the sole worker's notify (docs/design.md E5.4,
 * models/sole.pml).
 *
 * Why weft writes it: the system call is all there is to it, and liburcu
 * exports no wrapper (its urcu-memb calls the system call from inside its
 * own read-side flavour).
 *
 * Contract: any thread may call either function at any time. ready() is
 * false where the kernel lacks the command (before 4.14, or a seccomp
 * filter refuses it): callers then keep their fences and never call
 * weft__membarrier.
 */
#ifndef WEFT_MEMBARRIER_H
#define WEFT_MEMBARRIER_H

#include <stdbool.h>

/* Registers the process for private expedited barriers, once; true if they
 * work (false again once a barrier was refused for good, below). */
bool weft__membarrier_ready(void);

/* Every thread of the process executes a full memory barrier before this
 * returns. Only after weft__membarrier_ready() returned true. Retries the
 * rare transient failure (ENOMEM for the kernel's CPU mask; EPERM in a
 * child after fork, which registers again) for about a second, then falls
 * back to the global command (membarrier.c). A refusal for good (ENOSYS or
 * EINVAL: a seccomp filter installed after start-up) is not retried: the
 * call falls back at once, and ready() answers false from then on. */
void weft__membarrier(void);
/* How many times weft__membarrier was called in this process (tests). */
unsigned long weft__membarrier_calls(void);

#endif /* WEFT_MEMBARRIER_H */
