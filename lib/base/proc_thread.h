/*
 * weft — one of this process's threads, as the kernel reports it
 * (lib/base/proc_thread.c): whether it is on a CPU or waiting.
 */
#ifndef WEFT_BASE_PROC_THREAD_H
#define WEFT_BASE_PROC_THREAD_H

/* The state letter of thread `tid` of this process, from
 * /proc/self/task/<tid>/stat ('R' running or runnable, 'S' sleeping, 'D'
 * in uninterruptible wait, ...), or 0 when /proc cannot tell. */
char weft__proc_thread_state(int tid);
/* The calling thread's id as /proc/self/task/ names it (readlink of
 * /proc/thread-self), which is gettid() unless the caller is in a PID
 * namespace that kept another namespace's /proc; gettid() when /proc
 * cannot tell. A few microseconds: once per thread. */
int weft__proc_thread_self(void);

#endif /* WEFT_BASE_PROC_THREAD_H */
