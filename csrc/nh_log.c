/*
 * nh_log.c: log records buffered for the owner thread. Workers never call
 * Lua, so they append here (bounded: past the capacity records are counted
 * and dropped) and the owner drains the list when it polls.
 */
#include <stdlib.h>

#include "nh_internal.h"

void nh_logbuf_init(nh_logbuf *b, int level, size_t capacity) {
  b->head = b->tail = NULL;
  b->length = 0;
  b->capacity = capacity;
  b->dropped = 0;
  b->level = level;
  pthread_mutex_init(&b->lock, NULL);
}

void nh_log_free(nh_log_record *r) {
  while (r) {
    nh_log_record *next = r->next;
    free(r->message_id);
    free(r->text);
    free(r);
    r = next;
  }
}

void nh_logbuf_destroy(nh_logbuf *b) {
  nh_log_free(b->head);
  pthread_mutex_destroy(&b->lock);
}

static int append(nh_logbuf *b, int level, int worker_id, const char *message_id, int attempt,
                  int keep, const char *fmt, va_list ap) {
  nh_log_record *r = calloc(1, sizeof *r);
  if (!r) return 0;
  r->text = nh_vsprintf(fmt, ap);
  r->level = level;
  r->worker_id = worker_id;
  r->attempt = attempt;
  r->message_id = nh_strdup(message_id);
  pthread_mutex_lock(&b->lock);
  if (b->length >= b->capacity && !keep) {
    b->dropped++;
    pthread_mutex_unlock(&b->lock);
    nh_log_free(r);
    return 0;
  }
  if (b->tail) b->tail->next = r;
  else b->head = r;
  b->tail = r;
  b->length++;
  pthread_mutex_unlock(&b->lock);
  return 1;
}

void nh_log(nh_logbuf *b, int level, int worker_id, const char *message_id, const char *fmt, ...) {
  if (level < b->level) return;
  va_list ap;
  va_start(ap, fmt);
  append(b, level, worker_id, message_id, 0, 0, fmt, ap);
  va_end(ap);
}

void nh_log_attempt(nh_logbuf *b, int level, int worker_id, const char *message_id, int attempt,
                    const char *fmt, ...) {
  if (level < b->level) return;
  va_list ap;
  va_start(ap, fmt);
  append(b, level, worker_id, message_id, attempt, 0, fmt, ap);
  va_end(ap);
}

int nh_log_keep(nh_logbuf *b, int level, int keep, const char *message_id, const char *fmt, ...) {
  if (level < b->level) return 0;
  va_list ap;
  va_start(ap, fmt);
  int kept = append(b, level, 0, message_id, 0, keep, fmt, ap);
  va_end(ap);
  return kept;
}

nh_log_record *nh_logbuf_take(nh_logbuf *b) {
  pthread_mutex_lock(&b->lock);
  nh_log_record *all = b->head;
  b->head = b->tail = NULL;
  b->length = 0;
  pthread_mutex_unlock(&b->lock);
  return all;
}
