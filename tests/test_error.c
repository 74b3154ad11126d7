/* Error codes, names and the version API. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <weft/weft.h>

static void every_code_has_a_name_and_text(void **state) {
  (void)state;
  for (int e = WEFT_OK; e >= WEFT_ESTATE; e--) {
    assert_string_not_equal(weft_err_name(e), "WEFT_E?");
    assert_string_not_equal(weft_strerror(e), "unknown error");
  }
  assert_string_equal(weft_err_name(1), "WEFT_E?");
  assert_string_equal(weft_strerror(-9999), "unknown error");
  assert_string_equal(weft_err_name(WEFT_EQUIT), "WEFT_EQUIT");
}

/* The library's version and its header's are checked against the one
 * source of truth, project(VERSION) in CMakeLists.txt, which the build
 * passes in (tests/CMakeLists.txt): a release that bumps one and not the
 * others fails here. */
#if !defined(WEFT_CMAKE_VERSION) || !defined(WEFT_CMAKE_VERSION_MAJOR) || \
    !defined(WEFT_CMAKE_VERSION_MINOR) || !defined(WEFT_CMAKE_VERSION_PATCH)
#error "tests/CMakeLists.txt passes project(VERSION) to test_error"
#endif
static void version_matches_project(void **state) {
  (void)state;
  const unsigned hex = (WEFT_CMAKE_VERSION_MAJOR << 16) | (WEFT_CMAKE_VERSION_MINOR << 8) |
                       WEFT_CMAKE_VERSION_PATCH;
  assert_string_equal(weft_version(), WEFT_CMAKE_VERSION);
  assert_int_equal(weft_version_hex(), hex);
  assert_string_equal(WEFT_VERSION_STRING, WEFT_CMAKE_VERSION);
  assert_int_equal(WEFT_VERSION_MAJOR, WEFT_CMAKE_VERSION_MAJOR);
  assert_int_equal(WEFT_VERSION_MINOR, WEFT_CMAKE_VERSION_MINOR);
  assert_int_equal(WEFT_VERSION_PATCH, WEFT_CMAKE_VERSION_PATCH);
  assert_int_equal(WEFT_VERSION_HEX, hex);
}

static void replace_allocator_rejects_unpaired(void **state) {
  (void)state;
  assert_int_equal(weft_replace_allocator(NULL, NULL, free), WEFT_EINVAL);
  assert_int_equal(weft_replace_allocator(malloc, calloc, free), WEFT_OK);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(every_code_has_a_name_and_text),
      cmocka_unit_test(version_matches_project),
      cmocka_unit_test(replace_allocator_rejects_unpaired),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
