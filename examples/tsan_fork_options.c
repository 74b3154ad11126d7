/* Linked into howto_fork in ThreadSanitizer builds only: the example's
 * child starts threads after a fork of a threaded process, which TSan
 * refuses unless die_after_fork=0 (docs/threading-howto.md, "Fork").
 * TSAN_OPTIONS from the environment still applies on top of this. */
const char *__tsan_default_options(void);
const char *__tsan_default_options(void) { return "die_after_fork=0"; }
