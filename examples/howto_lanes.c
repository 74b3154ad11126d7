/* How-to: lanes keep slow work from starving fast work in one pool. */
#include <pthread.h>
#include <stdio.h>
#include <weft/weft.h>

/* A stand-in for a slow disk: each read waits until the disk "answers". */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int disk_answers, reads_done, lookups_done;

static void read_file(void *arg) {
  (void)arg;
  pthread_mutex_lock(&mu);
  while (!disk_answers) pthread_cond_wait(&cv, &mu);
  reads_done++;
  pthread_cond_broadcast(&cv);
  pthread_mutex_unlock(&mu);
}

static void resolve(void *arg) {
  (void)arg;
  pthread_mutex_lock(&mu);
  lookups_done++;
  pthread_cond_broadcast(&cv);
  pthread_mutex_unlock(&mu);
}

int main(void) {
  weft_threadpool *tp;
  if (weft_threadpool_create(&tp, 4, 4, "io") != 0 || weft_threadpool_start(tp) != 0) return 1;
  weft_lane_options o;
  weft_lane_options_init(&o);
  o.name = "disk";
  o.limit = 2;             /* file reads hold at most 2 of the 4 threads */
  weft_lane *disk, *dns;
  if (weft_lane_create(tp, &o, &disk) != 0) return 1;
  o.name = "dns";
  o.limit = 4;
  if (weft_lane_create(tp, &o, &dns) != 0) return 1;

  int reads = 0, lookups = 0; /* the tasks accepted: a refused one never runs */
  for (int i = 0; i < 100; i++) reads += weft_lane_call_in_thread(disk, read_file, NULL) == 0;
  /* The disk is stuck, yet every lookup runs: 2 threads are left for them. */
  for (int i = 0; i < 10; i++) lookups += weft_lane_call_in_thread(dns, resolve, NULL) == 0;
  pthread_mutex_lock(&mu);
  while (lookups_done < lookups) pthread_cond_wait(&cv, &mu);
  disk_answers = 1;
  pthread_cond_broadcast(&cv);
  while (reads_done < reads) pthread_cond_wait(&cv, &mu);
  pthread_mutex_unlock(&mu);

  weft_threadpool_stop(tp); /* would also run what still waited in a lane */
  weft_lane_stats s;
  weft_lane_stats_get(disk, &s);
  printf("disk: %llu reads, at most %d at once (limit %d)\n",
         (unsigned long long)s.completed, s.peak_running, s.limit);
  int ok = lookups == 10 && s.completed == 100 && s.peak_running <= 2;
  weft_threadpool_destroy(tp); /* frees the lanes too */
  return ok ? 0 : 1;
}
