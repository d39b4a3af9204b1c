/*
 * nh_text.c: text helpers the platforms share: UTF-8 measuring and cutting,
 * escaping, a small growable buffer, and the overflow plan that fits a
 * message body into a platform's limit (truncate, split or refuse).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nh_internal.h"

#define ELLIPSIS "\xe2\x80\xa6"   /* U+2026, put where a text was cut */

/* ---- buffer ------------------------------------------------------------- */

int nh_buf_add(nh_buf *b, const char *s, size_t n) {
  if (b->failed) return -1;
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + n + 1) cap *= 2;
    char *p = realloc(b->data, cap);
    if (!p) {
      b->failed = 1;
      return -1;
    }
    b->data = p;
    b->cap = cap;
  }
  memcpy(b->data + b->len, s, n);
  b->len += n;
  b->data[b->len] = '\0';
  return 0;
}

int nh_buf_puts(nh_buf *b, const char *s) { return nh_buf_add(b, s, strlen(s)); }

/* Hands the text over (never NULL unless out of memory). */
char *nh_buf_take(nh_buf *b) {
  if (!b->data && !b->failed) nh_buf_add(b, "", 0);
  char *p = b->failed ? NULL : b->data;
  if (b->failed) free(b->data);
  memset(b, 0, sizeof *b);
  return p;
}

/* ---- UTF-8 -------------------------------------------------------------- */

static int is_continuation(unsigned char c) { return (c & 0xC0) == 0x80; }

size_t nh_utf8_chars(const char *s, size_t n) {
  size_t count = 0;
  for (size_t i = 0; i < n; i++) count += !is_continuation((unsigned char)s[i]);
  return count;
}

size_t nh_text_units(const char *s, int in_chars) {
  size_t n = strlen(s);
  return in_chars ? nh_utf8_chars(s, n) : n;
}

/* The byte length of the longest prefix of s (n bytes) with at most max
 * units, never ending inside a UTF-8 sequence. */
size_t nh_utf8_prefix(const char *s, size_t n, size_t max, int in_chars) {
  if (!in_chars) {
    if (max >= n) return n;
    while (max > 0 && is_continuation((unsigned char)s[max])) max--;
    return max;
  }
  size_t chars = 0;
  for (size_t i = 0; i < n; i++) {
    if (!is_continuation((unsigned char)s[i]) && chars++ == max) return i;
  }
  return n;
}

/* ---- escaping ----------------------------------------------------------- */

/* Appends s with each character found in `special` replaced by its entry in
 * `with` (parallel arrays). */
int nh_buf_escape(nh_buf *b, const char *s, const char *special, const char *const *with) {
  for (; s && *s; s++) {
    const char *hit = strchr(special, *s);
    if (hit) nh_buf_puts(b, with[hit - special]);
    else nh_buf_add(b, s, 1);
  }
  return b->failed ? -1 : 0;
}

static const char *const html_with[] = { "&amp;", "&lt;", "&gt;" };

int nh_buf_escape_html(nh_buf *b, const char *s) {
  return nh_buf_escape(b, s, "&<>", html_with);
}

/* ---- overflow ----------------------------------------------------------- */

static size_t rendered_units(const nh_platform *p, const nh_message *m, const nh_target *t,
                             const char *body, int *in_chars) {
  nh_message part = *m;
  part.body = (char *)body;
  char *text = p->render(&part, t, in_chars);
  if (!text) return (size_t)-1;
  size_t units = nh_text_units(text, *in_chars);
  free(text);
  return units;
}

static size_t next_boundary(const char *s, size_t n, size_t i) {
  while (i < n && is_continuation((unsigned char)s[i])) i++;
  return i;
}

/* The longest prefix of body (n bytes) whose rendering, with suffix added,
 * fits the limit; 0 when not even one character does. A binary search on
 * the cut point: the rendering grows with the body. */
static size_t longest_fit(const nh_platform *p, const nh_message *m, const nh_target *t,
                          const char *body, size_t n, const char *suffix, size_t limit) {
  size_t lo = 0, hi = n;
  int in_chars = 0;
  nh_buf b = { 0 };
  while (lo < hi) {
    size_t mid = next_boundary(body, n, lo + (hi - lo + 1) / 2);
    if (mid > hi) break;                      /* no character ends in (lo, hi] */
    b.len = 0;
    nh_buf_add(&b, body, mid);
    nh_buf_puts(&b, suffix);
    if (b.failed) break;
    if (rendered_units(p, m, t, b.data, &in_chars) <= limit) lo = mid;
    else hi = mid - 1;
  }
  free(b.data);
  return lo;
}

/* Prefers to end a split part after a newline, then after a space. */
static size_t natural_cut(const char *s, size_t n, size_t total) {
  if (n >= total) return n;
  for (size_t i = n; i > n / 2; i--)
    if (s[i - 1] == '\n') return i;
  for (size_t i = n; i > n / 2; i--)
    if (s[i - 1] == ' ') return i;
  return n;
}

static nh_code split_parts(const nh_platform *p, const nh_message *m, nh_target *t,
                           size_t limit, char *err, size_t errlen) {
  const char *body = m->body;
  size_t n = strlen(body), cap = 4;
  char **parts = calloc(cap, sizeof *parts);
  if (!parts) return NH_NO_MEMORY;
  t->parts = parts;                           /* the job frees what is here */
  nh_buf b = { 0 };
  int in_chars = 0;
  while (n > 0) {
    size_t fit = longest_fit(p, m, t, body, n, "", limit);
    size_t take = natural_cut(body, fit, n);
    if (take < fit) {
      /* Markup can make a shorter piece render longer ("`a` b" as code
       * with a cut after the space leaves a lone backtick): keep the
       * natural cut only when it fits too. */
      b.len = 0;
      nh_buf_add(&b, body, take);
      if (b.failed || rendered_units(p, m, t, b.data, &in_chars) > limit) take = fit;
    }
    if (take == 0) {
      snprintf(err, errlen, "%s: the title alone is over the limit of %zu", p->name, limit);
      free(b.data);
      return NH_INVALID_MESSAGE;
    }
    if (t->n_parts == cap) {
      char **more = realloc(t->parts, (cap *= 2) * sizeof *more);
      if (!more) {
        free(b.data);
        return NH_NO_MEMORY;
      }
      t->parts = more;
    }
    t->parts[t->n_parts++] = nh_strndup(body, take);
    body += take;
    n -= take;
  }
  free(b.data);
  return NH_OK;
}

static nh_code truncate_body(const nh_platform *p, const nh_message *m, nh_target *t,
                             size_t limit, char *err, size_t errlen) {
  size_t n = strlen(m->body);
  size_t keep = longest_fit(p, m, t, m->body, n, ELLIPSIS, limit);
  if (keep == 0) {
    snprintf(err, errlen, "%s: the title alone is over the limit of %zu", p->name, limit);
    return NH_INVALID_MESSAGE;
  }
  t->parts = calloc(1, sizeof *t->parts);
  if (!t->parts) return NH_NO_MEMORY;
  t->parts[0] = nh_sprintf("%.*s%s", (int)keep, m->body, ELLIPSIS);
  t->n_parts = 1;
  return t->parts[0] ? NH_OK : NH_NO_MEMORY;
}

nh_code nh_target_plan(const nh_message *m, nh_target *t, char *err, size_t errlen) {
  const nh_platform *p = nh_platform_get(t->platform);
  if (!nh_message_id_ok(m->id)) {
    snprintf(err, errlen, "id: 1 to %d printable ASCII characters without spaces expected",
             NH_MAX_ID_LEN);
    return NH_INVALID_MESSAGE;
  }
  if (p->check) {
    nh_code rc = p->check(m, t, err, errlen);
    if (rc != NH_OK) return rc;
  }
  if (!p->render) return NH_OK;
  int in_chars = 0;
  size_t limit = p->limit(m, t);
  size_t units = rendered_units(p, m, t, m->body, &in_chars);
  if (units == (size_t)-1) {
    snprintf(err, errlen, "%s: out of memory while measuring the message", p->name);
    return NH_NO_MEMORY;
  }
  if (units <= limit) return NH_OK;
  if (t->overflow == NH_OVERFLOW_ERROR || !m->body || !*m->body) {
    snprintf(err, errlen, "%s: the message is %zu %s, over the limit of %zu (overflow = \"error\")",
             p->name, units, in_chars ? "characters" : "bytes", limit);
    return NH_INVALID_MESSAGE;
  }
  if (t->overflow == NH_OVERFLOW_SPLIT) return split_parts(p, m, t, limit, err, errlen);
  return truncate_body(p, m, t, limit, err, errlen);
}
