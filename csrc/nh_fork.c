/*
 * nh_fork.c: whether fork() happened since a client was made. A child
 * has none of the client's threads and perhaps locks held by threads that
 * do not exist there, so such a client does nothing but be freed. A
 * generation bumped in the child is cheaper than getpid() per call.
 */
#include "nh_internal.h"

static volatile unsigned generation;
static pthread_once_t watch_once = PTHREAD_ONCE_INIT;

static void after_fork_in_child(void) { generation++; }

static void watch(void) { pthread_atfork(NULL, NULL, after_fork_in_child); }

unsigned nh_fork_generation(void) {
  pthread_once(&watch_once, watch);
  return generation;
}

int nh_fork_since(unsigned gen) { return gen != generation; }
