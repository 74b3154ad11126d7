/*
 * Test sizes. scripts/test.sh, and so CI, sets WEFT_TEST_CONFIG to the
 * configuration it runs (plain, asan or tsan); a test binary run by hand has
 * it unset. Every test runs its written size in every configuration. Where a
 * sanitizer build runs less, because the full size does not fit CI's time,
 * the line that sizes the test says so and why (docs/reliability.md has the
 * measurements); nothing else may read WEFT_TEST_CONFIG to shrink a test.
 */
#ifndef WEFT_TEST_SIZE_H
#define WEFT_TEST_SIZE_H

#include <stdlib.h>
#include <string.h>

/* 1 if scripts/test.sh is running the configuration `cfg` ("tsan", ...). */
static inline int weft_test_config_is(const char *cfg) {
  const char *c = getenv("WEFT_TEST_CONFIG");
  return c != NULL && strcmp(c, cfg) == 0;
}

#endif /* WEFT_TEST_SIZE_H */
