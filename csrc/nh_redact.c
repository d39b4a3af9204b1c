/*
 * nh_redact.c: cuts a target's secret values (tokens, passwords, signing
 * secrets, header values, URL user info; the façade lists them in every
 * form they may take) out of the texts the core hands back: answers,
 * errors, log lines and labels. One function, used wherever a text about a
 * target leaves the core.
 */
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nh_internal.h"

#define MASK "***"

/* The longest secret that starts at s (of n bytes left), or 0. */
static size_t match_at(const char *s, size_t n, char *const *secrets, size_t count) {
  size_t best = 0;
  for (size_t k = 0; k < count; k++) {
    if (secrets[k][0] != *s) continue; /* cheap: most bytes start no secret */
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
      memcpy(s + w, MASK, sizeof MASK - 1); /* w <= r: the run's own bytes */
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

/* A finished target's texts, before anyone outside the core reads them:
 * without the target's secrets, nor the client's (`more`: the proxy's). */
void nh_redact_result(nh_result *r, const nh_target *t, char *const *more, size_t n_more) {
  nh_redact_string(r->error, t);
  if (r->error && n_more) nh_redact(r->error, strlen(r->error), more, n_more);
  if (!r->response) return;
  r->response_len = nh_redact(r->response, r->response_len, t->secrets, t->n_secrets);
  r->response_len = nh_redact(r->response, r->response_len, more, n_more);
}

static void add(char **list, size_t *n, char *s) {
  if (s && strlen(s) >= NH_REDACT_MIN) list[(*n)++] = s;
  else free(s);
}

static char *base64_of(const char *s) {
  size_t len = strlen(s);
  char *out = malloc(4 * ((len + 2) / 3) + 1);
  if (out) EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)s, (int)len);
  return out;
}

static char *part(CURLU *u, CURLUPart what, unsigned flags) {
  char *p = NULL;
  if (curl_url_get(u, what, &p, flags) != CURLUE_OK) return NULL;
  char *copy = nh_strdup(p);
  curl_free(p);
  return copy;
}

char **nh_redact_proxy_secrets(const char *proxy, size_t *n) {
  *n = 0;
  if (!proxy || !strchr(proxy, '@')) return NULL;
  /* libcurl takes a proxy without a scheme as http://; so does the parse. */
  char *url = strstr(proxy, "://") ? nh_strdup(proxy) : nh_sprintf("http://%s", proxy);
  CURLU *u = url ? curl_url() : NULL;
  char **list = calloc(8, sizeof *list);
  if (u && list && curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) == CURLUE_OK) {
    char *user = part(u, CURLUPART_USER, CURLU_URLDECODE);
    char *password = part(u, CURLUPART_PASSWORD, CURLU_URLDECODE);
    char *both = nh_sprintf("%s:%s", user ? user : "", password ? password : "");
    add(list, n, part(u, CURLUPART_USER, 0));
    add(list, n, part(u, CURLUPART_PASSWORD, 0));
    add(list, n, both ? base64_of(both) : NULL);
    add(list, n, both);
    add(list, n, user);
    add(list, n, password);
  }
  if (u) curl_url_cleanup(u);
  free(url);
  if (*n == 0) {
    free(list);
    return NULL;
  }
  return list;
}

void nh_redact_free(char **secrets, size_t n) {
  for (size_t i = 0; i < n; i++) free(secrets[i]);
  free(secrets);
}
