/*
 * weft — internal invariant checks, in levels (mimalloc's MI_DEBUG):
 *   WEFT_DEBUG 0  release: no checks at all (the default for Release builds)
 *   WEFT_DEBUG 1  cheap checks on state transitions and arguments
 *   WEFT_DEBUG 2  + checks on every task (queue bounds, exactly-once marks)
 *   WEFT_DEBUG 3  + expensive whole-structure scans
 * A failed check prints the condition and location and aborts: it is a bug
 * in weft, never a user error (user errors return WEFT_E* codes).
 * CMake: -DWEFT_DEBUG=N (Debug builds default to 2).
 */
#ifndef WEFT_DEBUG_H
#define WEFT_DEBUG_H

#ifndef WEFT_DEBUG
#define WEFT_DEBUG 0
#endif

void weft__assert_fail(const char *cond, const char *file, int line, const char *func)
    __attribute__((noreturn));

#define WEFT__CHECK(c) \
  ((c) ? (void)0 : weft__assert_fail(#c, __FILE__, __LINE__, __func__))

#if WEFT_DEBUG >= 1
#define weft_assert_internal(c) WEFT__CHECK(c)
#else
#define weft_assert_internal(c) ((void)0)
#endif
#if WEFT_DEBUG >= 2
#define weft_assert_hot(c) WEFT__CHECK(c)
#else
#define weft_assert_hot(c) ((void)0)
#endif
#if WEFT_DEBUG >= 3
#define weft_assert_expensive(c) WEFT__CHECK(c)
#else
#define weft_assert_expensive(c) ((void)0)
#endif

#endif /* WEFT_DEBUG_H */
