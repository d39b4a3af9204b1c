/*
 * nh_text.c: text helpers the platforms share: UTF-8 measuring and cutting,
 * escaping, a small growable buffer, and the overflow plan that fits a
 * message body into a platform's limit (truncate, split or refuse).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nh_internal.h"

#define ELLIPSIS "\xe2\x80\xa6" /* U+2026, put where a text was cut */

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

int nh_buf_escape_html(nh_buf *b, const char *s) { return nh_buf_escape(b, s, "&<>", html_with); }

/* ---- overflow ----------------------------------------------------------- */

/* The planner never renders the whole rest of a body per candidate: a part
 * is looked for in the next PLAN_WINDOW(limit) units of the body, and each
 * probe renders one candidate part (at most that window), a few times per
 * part, so planning is linear in the body. It takes no rendering to shrink
 * a text to less than half: a body over the window is over the limit
 * without being rendered whole (a rendering that does shrink it that much
 * still fits, in shorter parts than it could). */
#define PLAN_WINDOW(limit) ((limit) < ((size_t)-1 - 64) / 2 ? 2 * (limit) + 64 : (size_t)-1)
/* A part is long enough once it renders within limit / PLAN_SLACK units of
 * the limit (0.2%; none for limits under 512): the last few probes of an
 * exact search would each gain a character or two. */
#define PLAN_SLACK 512
/* Probes that interpolate before the search halves every other time. */
#define PLAN_GUESSES 4

/* What a probe needs to measure a candidate part. */
typedef struct plan_ctx {
  const nh_platform *p;
  const nh_message *m;
  const nh_target *t;
  size_t limit;
  int in_chars;       /* the platform counts UTF-8 characters */
  const char *suffix; /* added to every candidate: "" or U+2026 */
  size_t base;        /* units of the suffix alone, rendered (the title's share) */
  double per_unit;    /* body bytes per rendered unit in the last part; 0: none yet */
  nh_buf b;           /* scratch: the candidate */
} plan_ctx;

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

/* Units of body[0..k) plus the suffix as rendered; (size_t)-1 when out of
 * memory (never fits). */
static size_t probe(plan_ctx *x, const char *body, size_t k) {
  x->b.len = 0;
  nh_buf_add(&x->b, body, k);
  nh_buf_puts(&x->b, x->suffix);
  return x->b.failed ? (size_t)-1 : rendered_units(x->p, x->m, x->t, x->b.data, &x->in_chars);
}

static size_t next_boundary(const char *s, size_t n, size_t i) {
  while (i < n && is_continuation((unsigned char)s[i])) i++;
  return i;
}

/* A cut in (lo, hi) on a character boundary near c, or 0 when there is none. */
static size_t cut_near(const char *s, size_t n, size_t lo, size_t hi, size_t c) {
  if (hi - lo < 2) return 0;
  if (c <= lo) c = lo + 1;
  if (c >= hi) c = hi - 1;
  size_t up = next_boundary(s, n, c);
  if (up < hi) return up;
  while (c > lo && is_continuation((unsigned char)s[c])) c--;
  return c > lo ? c : 0;
}

/* The interval of the search: lo (lo_u units) is the longest cut known to
 * fit, hi (hi_u) the shortest known not to; without such a hi yet, hi is
 * the window's end plus one. */
typedef struct fit_range {
  size_t lo, lo_u, hi, hi_u, cap;
  int have_hi;
} fit_range;

/* Where to probe next: the cut that a straight line through the two ends
 * puts at `aim` units; without a hi yet, the line from the empty part
 * through lo. The first guess: as dense as the last part, or else the
 * prefix of `aim` units. */
static size_t guess(const plan_ctx *x, const char *s, const fit_range *r, size_t aim) {
  size_t room = aim > r->lo_u ? aim - r->lo_u : 0;
  if (!r->have_hi && r->lo == 0 && x->per_unit > 0 && (double)room * x->per_unit < (double)r->cap)
    return (size_t)((double)room * x->per_unit);
  if (!r->have_hi && r->lo == 0) return nh_utf8_prefix(s, r->cap, room ? room : 1, x->in_chars);
  double step =
    r->have_hi ? (double)room * (double)(r->hi - r->lo) / (double)(r->hi_u - r->lo_u)
               : (double)r->lo * (double)room / (double)(r->lo_u > x->base ? r->lo_u - x->base : 1);
  return step < (double)(r->cap - r->lo) ? r->lo + (size_t)step : r->cap;
}

/* The longest prefix of body (n bytes) whose rendering, with the suffix
 * added, fits the limit (to within limit / PLAN_SLACK units); 0 when not
 * even one character does. The rendering is taken to grow with the prefix
 * and to be close to linear in it, so probes aim at the limit (a little
 * under it once one was over) by interpolation; on ordinary text that is
 * one probe a part, as dense as the last, and two to six on mixed text. After
 * PLAN_GUESSES of them every other probe halves the interval, so a part
 * never costs more than PLAN_GUESSES + 2 log2(window) probes. */
static size_t longest_fit(plan_ctx *x, const char *body, size_t n) {
  size_t slack = x->limit / PLAN_SLACK;
  fit_range r = { .cap = nh_utf8_prefix(body, n, PLAN_WINDOW(x->limit), x->in_chars) };
  r.lo_u = x->base < x->limit ? x->base : x->limit;
  r.hi = r.cap + 1;
  for (int k = 0;; k++) {
    int bisect = k >= PLAN_GUESSES && k % 2;
    size_t aim = r.have_hi ? x->limit - slack / 2 : x->limit; /* under, once over */
    size_t c = bisect ? r.lo + (r.hi - r.lo) / 2 : guess(x, body, &r, aim);
    c = cut_near(body, n, r.lo, r.hi, c);
    if (c == 0) break; /* no character ends in (lo, hi) */
    size_t u = probe(x, body, c);
    if (u > x->limit) {
      r.hi = c;
      r.hi_u = u;
      r.have_hi = 1;
      continue;
    }
    r.lo = c;
    r.lo_u = u;
    if (u + slack >= x->limit && slack > 0) break;
  }
  if (r.lo > 0 && r.lo_u > x->base) x->per_unit = (double)r.lo / (double)(r.lo_u - x->base);
  return r.lo;
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

static int add_part(nh_target *t, size_t *cap, const char *s, size_t n) {
  if (t->n_parts == *cap) {
    char **more = realloc(t->parts, (*cap *= 2) * sizeof *more);
    if (!more) return -1;
    t->parts = more;
  }
  t->parts[t->n_parts] = nh_strndup(s, n);
  return t->parts[t->n_parts++] ? 0 : -1;
}

/* A split given up halfway leaves no parts for a receipt to count. */
static void drop_parts(nh_target *t) {
  for (size_t i = 0; i < t->n_parts; i++) free(t->parts[i]);
  free(t->parts);
  t->parts = NULL;
  t->n_parts = 0;
}

static nh_code split_parts(plan_ctx *x, nh_target *t, char *err, size_t errlen) {
  const char *body = x->m->body;
  size_t n = strlen(body), cap = 4;
  t->parts = calloc(cap, sizeof *t->parts); /* the job frees what is here */
  if (!t->parts) return NH_NO_MEMORY;
  x->base = probe(x, "", 0);
  while (n > 0) {
    if (x->m->stop && x->m->stop(x->m->stop_arg)) { /* nobody wants it: the worker says why */
      drop_parts(t);
      return NH_CANCELLED;
    }
    size_t fit = longest_fit(x, body, n);
    size_t take = natural_cut(body, fit, n);
    /* Markup can make a shorter piece render longer ("`a` b" as code with a
     * cut after the space leaves a lone backtick): keep the natural cut
     * only when it fits too. */
    if (take < fit && probe(x, body, take) > x->limit) take = fit;
    if (take == 0) {
      snprintf(err, errlen, "%s: the title alone is over the limit of %zu", x->p->name, x->limit);
      return NH_INVALID_MESSAGE;
    }
    if (add_part(t, &cap, body, take)) return NH_NO_MEMORY;
    body += take;
    n -= take;
  }
  return NH_OK;
}

static nh_code truncate_body(plan_ctx *x, nh_target *t, char *err, size_t errlen) {
  const char *body = x->m->body;
  x->suffix = ELLIPSIS;
  x->base = probe(x, "", 0);
  size_t keep = longest_fit(x, body, strlen(body));
  if (keep == 0) {
    snprintf(err, errlen, "%s: the title alone is over the limit of %zu", x->p->name, x->limit);
    return NH_INVALID_MESSAGE;
  }
  t->parts = calloc(1, sizeof *t->parts);
  if (!t->parts) return NH_NO_MEMORY;
  t->parts[0] = nh_sprintf("%.*s%s", (int)keep, body, ELLIPSIS);
  t->n_parts = 1;
  return t->parts[0] ? NH_OK : NH_NO_MEMORY;
}

/* The message's units as rendered; for a body over the window (the unit
 * learnt from rendering the title alone), limit + 1 without rendering it,
 * unless overflow = error has to say how long it is. */
static size_t measure(plan_ctx *x) {
  const char *body = x->m->body;
  if (x->t->overflow != NH_OVERFLOW_ERROR && body && strlen(body) > PLAN_WINDOW(x->limit)) {
    if (probe(x, "", 0) == (size_t)-1) return (size_t)-1;
    if (nh_text_units(body, x->in_chars) > PLAN_WINDOW(x->limit)) return x->limit + 1;
  }
  return rendered_units(x->p, x->m, x->t, body, &x->in_chars);
}

static nh_code plan_target(const nh_message *m, nh_target *t, char *err, size_t errlen) {
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
  if (m->stop && m->stop(m->stop_arg)) return NH_CANCELLED;
  plan_ctx x = { .p = p, .m = m, .t = t, .limit = p->limit(m, t), .suffix = "" };
  size_t units = measure(&x);
  if (units == (size_t)-1) {
    free(x.b.data);
    snprintf(err, errlen, "%s: out of memory while measuring the message", p->name);
    return NH_NO_MEMORY;
  }
  if (units <= x.limit || t->overflow == NH_OVERFLOW_ERROR || !m->body || !*m->body) {
    free(x.b.data);
    if (units <= x.limit) return NH_OK;
    snprintf(err, errlen, "%s: the message is %zu %s, over the limit of %zu (overflow = \"error\")",
             p->name, units, x.in_chars ? "characters" : "bytes", x.limit);
    return NH_INVALID_MESSAGE;
  }
  nh_code rc = t->overflow == NH_OVERFLOW_SPLIT ? split_parts(&x, t, err, errlen)
                                                : truncate_body(&x, t, err, errlen);
  free(x.b.data);
  return rc;
}

/* Once: a target already planned keeps its parts. */
nh_code nh_target_plan(const nh_message *m, nh_target *t, char *err, size_t errlen) {
  if (t->planned) return NH_OK;
  nh_code rc = plan_target(m, t, err, errlen);
  t->planned = rc == NH_OK;
  return rc;
}

/* The title counts too: it is rendered with every part (a 10 MB title took
 * 0.25 s of the caller's time to refuse). */
int nh_message_plan_now(const nh_message *m) {
  size_t title = m->title ? strnlen(m->title, NH_PLAN_SYNC_MAX + 1) : 0;
  size_t body = m->body ? strnlen(m->body, NH_PLAN_SYNC_MAX + 1) : 0;
  return title + body <= NH_PLAN_SYNC_MAX;
}

/* The first line of s, at most max_chars characters (a title for services
 * that take one line). */
char *nh_text_line(const char *s, size_t max_chars) {
  size_t n = strcspn(s ? s : "", "\r\n");
  if (!s || nh_utf8_chars(s, n) <= max_chars) return nh_strndup(s ? s : "", n);
  size_t keep = nh_utf8_prefix(s, n, max_chars ? max_chars - 1 : 0, 1);
  return nh_sprintf("%.*s\xe2\x80\xa6", (int)keep, s); /* ends with U+2026 */
}
