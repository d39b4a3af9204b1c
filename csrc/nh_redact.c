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
    size_t len = strlen(secrets[k]);
    if (len > best && len <= n && memcmp(s, secrets[k], len) == 0) best = len;
  }
  return best;
}

/* In place: every secret of at least NH_REDACT_MIN bytes becomes "***", so
 * the text only shrinks. The longest match wins where secrets overlap, and
 * a mask never joins with what follows into a new match (one pass). */
size_t nh_redact(char *s, size_t len, char *const *secrets, size_t count) {
  if (!s || !count) return len;
  size_t r = 0, w = 0;
  while (r < len) {
    size_t m = match_at(s + r, len - r, secrets, count);
    if (m >= NH_REDACT_MIN) {
      memcpy(s + w, MASK, sizeof MASK - 1);
      w += sizeof MASK - 1;
      r += m;
    } else {
      s[w++] = s[r++];
    }
  }
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
