/*
 * Every public function, called with bad arguments: NULL for each pointer and
 * 0, then -1, for each number (public_api_calls.py generates the calls from
 * the headers in include/weft/, so a function added to a header is covered without being
 * listed here). Each call runs in a child process of its own, with nothing
 * set up before it: the call must return, whatever it returns. A crash
 * (a signal), an abort, a sanitizer report (its non-zero exit) or a hang
 * (the alarm) fails the test, naming the function and the argument set.
 *
 * "Bad input gets a clear error, never a crash": this is the "never a
 * crash" half for every entry point; the error codes of each are asserted
 * in the tests of its module (test_misuse and the others).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "weft/weft.h"

#include "public_api_calls.h"

#define CALL_ALARM_S 20 /* a hang, not a slow call: each returns at once */

static void every_function_survives_bad_arguments(void **state) {
  (void)state;
  int failed = 0;
  for (int pass = 0; pass < 2; pass++) {
    for (int i = 0; i < API_N; i++) {
      fflush(stdout);
      pid_t pid = fork();
      assert_true(pid >= 0);
      if (pid == 0) {
        /* cmocka's handlers would turn a crash into exit status 1: let
         * the signal kill the child, so the parent reports which. */
        static const int sigs[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT};
        for (size_t k = 0; k < sizeof sigs / sizeof sigs[0]; k++) signal(sigs[k], SIG_DFL);
        alarm(CALL_ALARM_S);
        api_call(i, pass);
        _exit(0);
      }
      int st = 0;
      assert_int_equal(waitpid(pid, &st, 0), pid);
      if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        printf("%s, argument set %d: %s %d\n", api_names[i], pass,
               WIFSIGNALED(st) ? "killed by signal" : "exit status",
               WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
        failed++;
      }
    }
  }
  printf("%d public functions, 2 argument sets each: %d failed\n", API_N, failed);
  assert_int_equal(failed, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(every_function_survives_bad_arguments),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
