/*
 * nh_redact.c: cuts a target's secret values (tokens, passwords, signing
 * secrets, header values, URL user info; the façade lists them in every
 * form they may take) out of the texts the core hands back: answers,
 * errors, log lines and labels. One function, used wherever a text about a
 * target leaves the core.
 */
#include <stdlib.h>
#include <string.h>

#include "nh_internal.h"

#define MASK "***"

/* The longest secret that starts at s (of n bytes left), or 0. */
static size_t match_at(const char *s, size_t n, char *const *secrets, size_t count) {
  size_t best = 0;
  for (size_t k = 0; k < count; k++) {
    if (secrets[k][0] != *s) continue;        /* cheap: most bytes start no secret */
    size_t len = strlen(secrets[k]);
    if (len > best && len >= NH_REDACT_MIN && len <= n && memcmp(s, secrets[k], len) == 0)
      best = len;
  }
  return best;
}

/* In place: every byte that belongs to an occurrence of a secret (of at
 * least NH_REDACT_MIN bytes) is hidden, and each run of hidden bytes becomes
 * one "***". Overlapping secrets hide their union, so no part of either
 * shows; a run is at least NH_REDACT_MIN bytes, so the text only shrinks.
 * Without memory to mark the runs, the whole text becomes "***". */
size_t nh_redact(char *s, size_t len, char *const *secrets, size_t count) {
  if (!s || !count || !len) return len;
  unsigned char *hidden = calloc(len, 1);
  if (!hidden) {
    size_t n = len < sizeof MASK - 1 ? len : sizeof MASK - 1;
    memcpy(s, MASK, n);
    if (n < len) s[n] = '\0';
    return n;
  }
  for (size_t r = 0; r < len; r++) {
    size_t m = match_at(s + r, len - r, secrets, count);
    if (m) memset(hidden + r, 1, m);
  }
  size_t w = 0;
  for (size_t r = 0; r < len; r++) {
    if (!hidden[r]) {
      s[w++] = s[r];
    } else if (r == 0 || !hidden[r - 1]) {
      memcpy(s + w, MASK, sizeof MASK - 1);   /* w <= r: the run's own bytes */
      w += sizeof MASK - 1;
    }
  }
  free(hidden);
  if (w < len) s[w] = '\0';
  return w;
}

void nh_redact_string(char *s, const nh_target *t) {
  if (s) nh_redact(s, strlen(s), t->secrets, t->n_secrets);
}

/* A finished target's texts, before anyone outside the core reads them. */
void nh_redact_result(nh_result *r, const nh_target *t) {
  nh_redact_string(r->error, t);
  if (r->response)
    r->response_len = nh_redact(r->response, r->response_len, t->secrets, t->n_secrets);
}
