/* How-to: several calls in sequence, in one pool thread. */
#include <stdio.h>
#include <string.h>
#include <weft/weft.h>

static weft_reactor *reactor;
static char seen[64];

static int say(void *arg, void **result) {
  (void)result;
  strcat(seen, arg); /* the calls run one after another: no race */
  return 0;
}

static void done(void *arg) {
  (void)arg;
  weft_reactor_stop(reactor);
}

static int finish(void *arg, void **result) {
  (void)arg;
  (void)result;
  int rc = weft_reactor_call_from_thread(reactor, done, NULL);
  if (rc != 0) weft_reactor_stop(reactor); /* stop is safe from any thread */
  return rc;
}

int main(void) {
  if (weft_reactor_create(&reactor) != 0) return 1;
  weft_call commands[] = {{say, "First "}, {say, "Second "}, {finish, NULL}};
  int rc = weft_call_multiple_in_thread(reactor, commands, 3);
  if (rc == 0) weft_reactor_run(reactor); /* else nothing would stop it */
  weft_reactor_destroy(reactor);
  printf("%s\n", seen);
  return rc == 0 && strcmp(seen, "First Second ") == 0 ? 0 : 1;
}
