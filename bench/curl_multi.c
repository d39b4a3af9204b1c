/*
 * curl_multi.c: the ceiling libcurl itself reaches on this machine, for the
 * benchmark's reference table: COUNT POSTs of a small JSON body to URL from
 * THREADS threads, each a multi handle with INFLIGHT transfers and reused
 * easy handles; nothing else (no queue, no JSON building, no Lua).
 *
 *   curl_multi URL COUNT THREADS INFLIGHT   -> prints "requests=N seconds=S"
 */
#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static const char *url;
static int per_thread, inflight;

static size_t discard(char *p, size_t size, size_t n, void *ud) {
  (void)p;
  (void)ud;
  return size * n;
}

static void start_one(CURLM *m, CURL **spare, int *n_spare, struct curl_slist *headers) {
  static const char body[] =
    "{\"id\":\"x\",\"body\":\"hello\",\"format\":\"text\",\"priority\":\"normal\"}";
  CURL *e = *n_spare ? spare[--*n_spare] : curl_easy_init();
  curl_easy_setopt(e, CURLOPT_URL, url);
  curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_multi_add_handle(m, e);
}

static void *run(void *arg) {
  (void)arg;
  CURLM *m = curl_multi_init();
  CURL **spare = calloc((size_t)inflight, sizeof *spare);
  int n_spare = 0, started = 0, done = 0, running;
  struct curl_slist *headers = curl_slist_append(NULL, "Content-Type: application/json");
  while (done < per_thread) {
    for (; started - done < inflight && started < per_thread; started++)
      start_one(m, spare, &n_spare, headers);
    curl_multi_poll(m, NULL, 0, 1000, NULL);
    curl_multi_perform(m, &running);
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(m, &left))) {
      if (msg->msg != CURLMSG_DONE) continue;
      curl_multi_remove_handle(m, msg->easy_handle);
      spare[n_spare++] = msg->easy_handle;
      done++;
    }
  }
  while (n_spare) curl_easy_cleanup(spare[--n_spare]);
  free(spare);
  curl_slist_free_all(headers);
  curl_multi_cleanup(m);
  return NULL;
}

int main(int argc, char **argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: curl_multi URL COUNT THREADS INFLIGHT\n");
    return 2;
  }
  url = argv[1];
  int count = atoi(argv[2]), threads = atoi(argv[3]);
  inflight = atoi(argv[4]);
  per_thread = count / threads;
  curl_global_init(CURL_GLOBAL_DEFAULT);
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  pthread_t *t = calloc((size_t)threads, sizeof *t);
  for (int i = 0; i < threads; i++) pthread_create(&t[i], NULL, run, NULL);
  for (int i = 0; i < threads; i++) pthread_join(t[i], NULL);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  printf("requests=%d seconds=%.6f\n", per_thread * threads,
         (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
  free(t);
  return 0;
}
