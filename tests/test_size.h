/*
 * Test sizes and configurations. scripts/test.sh, and so CI, sets
 * WEFT_TEST_CONFIG to the configuration it runs (plain, asan or tsan); a
 * test binary run by hand has it unset. Every test runs its written size in
 * every configuration: a sanitizer build may run less only where the full
 * size cannot fit CI's time, and the line that sizes the test must then say
 * so and why (docs/reliability.md, "Test sizes", has the measurements).
 * One case does: test_reactor's destroy_waits_for_a_waking_producer, under
 * TSan. (test_thread_worker and test_node_cache also skip a case TSan
 * itself cannot run.)
 */
#ifndef WEFT_TEST_SIZE_H
#define WEFT_TEST_SIZE_H

#include <stdlib.h>
#include <string.h>

/* 1 when compiled with ThreadSanitizer (a build run by hand with ctest
 * has no WEFT_TEST_CONFIG): a case TSan itself cannot run skips on this. */
#if defined(__SANITIZE_THREAD__)
#define WEFT_TEST_BUILT_WITH_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define WEFT_TEST_BUILT_WITH_TSAN 1
#endif
#endif
#ifndef WEFT_TEST_BUILT_WITH_TSAN
#define WEFT_TEST_BUILT_WITH_TSAN 0
#endif

/* 1 if scripts/test.sh is running the configuration `cfg` ("tsan", ...). */
static inline int weft_test_config_is(const char *cfg) {
  const char *c = getenv("WEFT_TEST_CONFIG");
  return c != NULL && strcmp(c, cfg) == 0;
}

#endif /* WEFT_TEST_SIZE_H */
