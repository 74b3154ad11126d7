/* A program outside the tree: built against an installed weft, by find_package and by pkg-config. */
#include <weft/weft.h>
#include <stdio.h>
#include <stdatomic.h>
static atomic_int n;
static void f(void *a) { (void)a; atomic_fetch_add(&n, 1); }
int main(void) {
  weft_threadpool *tp;
  if (weft_threadpool_create(&tp, 0, 2, "c") || weft_threadpool_start(tp)) return 1;
  for (int i = 0; i < 1000; i++) weft_threadpool_call_in_thread(tp, f, NULL);
  weft_threadpool_stop(tp); weft_threadpool_destroy(tp);
  printf("weft %s ran %d\n", weft_version(), atomic_load(&n));
  return atomic_load(&n) == 1000 ? 0 : 1;
}
