/*
 * nh_spool_job.c: a job as a spool record and back (JSON through cJSON),
 * and a finished job's receipt as the JSON the spool keeps of a failure.
 *
 * The record holds everything a worker in another process needs to
 * deliver: the message (id, title, body, format, priority, metadata,
 * platform_data, attachments: bytes as base64, or a path), the retry
 * policy, the deadline as wall-clock seconds, and every target fully
 * resolved: platform, the real URL, secret, headers, keywords, options,
 * rate rules, overflow, the planned parts and the secrets to redact. It
 * holds secrets, so it is never read back out of the file but to deliver.
 * The receipt holds labels and redacted texts only.
 */
#include <math.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "nh_internal.h"

#define RECORD_VERSION 1

/* ---- encoding ---------------------------------------------------------------- */

/* The record is written straight into one growing buffer, not built as a
 * cJSON tree and printed: the tree (a malloc per value and per key, then
 * the print's %1.15g and sscanf per fractional number) was about 5 us of
 * each send_async with a spool. The text is the same JSON the decoder
 * (cJSON) reads: same keys, same escapes, RECORD_VERSION unchanged. */
typedef struct {
  char *p;
  size_t len, cap;
  int bad; /* out of memory: the record is not made */
} jbuf;

static int jb_room(jbuf *b, size_t more) {
  if (b->bad) return -1;
  if (b->len + more + 1 <= b->cap) return 0;
  size_t cap = b->cap ? b->cap : 512;
  while (cap < b->len + more + 1) cap *= 2;
  char *p = realloc(b->p, cap);
  if (!p) {
    b->bad = 1;
    return -1;
  }
  b->p = p;
  b->cap = cap;
  return 0;
}

static void jb_raw(jbuf *b, const char *s, size_t n) {
  if (jb_room(b, n)) return;
  memcpy(b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = '\0';
}

static void jb_lit(jbuf *b, const char *s) { jb_raw(b, s, strlen(s)); }

/* A separator unless the enclosing object or array was just opened. */
static void jb_sep(jbuf *b) {
  if (b->len && b->p[b->len - 1] != '{' && b->p[b->len - 1] != '[') jb_raw(b, ",", 1);
}

/* s as a JSON string, escaped as cJSON escapes (its parser reads it back). */
static void jb_str(jbuf *b, const char *s) {
  static const char hex[] = "0123456789abcdef";
  jb_raw(b, "\"", 1);
  const unsigned char *u = (const unsigned char *)s;
  while (*u) {
    const unsigned char *run = u;
    while (*u >= 32 && *u != '"' && *u != '\\') u++;
    if (u > run) jb_raw(b, (const char *)run, (size_t)(u - run));
    if (!*u) break;
    char e[6] = { '\\', 0 };
    size_t n = 2;
    switch (*u) {
    case '"': e[1] = '"'; break;
    case '\\': e[1] = '\\'; break;
    case '\b': e[1] = 'b'; break;
    case '\f': e[1] = 'f'; break;
    case '\n': e[1] = 'n'; break;
    case '\r': e[1] = 'r'; break;
    case '\t': e[1] = 't'; break;
    default:
      memcpy(e + 1, "u00", 3);
      e[4] = hex[*u >> 4];
      e[5] = hex[*u & 15];
      n = 6;
    }
    jb_raw(b, e, n);
    u++;
  }
  jb_raw(b, "\"", 1);
}

static void jb_key(jbuf *b, const char *k) {
  jb_sep(b);
  jb_str(b, k);
  jb_raw(b, ":", 1);
}

static void jb_int(jbuf *b, long long v) {
  char d[24], *p = d + sizeof d;
  unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
  do *--p = (char)('0' + u % 10);
  while (u /= 10);
  if (v < 0) *--p = '-';
  jb_raw(b, p, (size_t)(d + sizeof d - p));
}

/* v (not whole, |v| < 1e9) with at most 6 decimals when that text reads
 * back as v itself (0.5, 60.25: a setting's usual values); else 0. */
static int jb_fixed(char *d, double v) {
  double k = v * 1e6;
  if (!(fabs(v) < 1e9) || k != floor(k)) return 0;
  long long us = (long long)k, a = us < 0 ? -us : us;
  int n = 0, digits = 6;
  long long whole = a / 1000000, frac = a % 1000000;
  if (!frac) return 0; /* never for a v not whole, but the loop below needs it */
  while (frac % 10 == 0) frac /= 10, digits--;
  char w[24], *p = w + sizeof w;
  do *--p = (char)('0' + whole % 10);
  while (whole /= 10);
  if (us < 0) d[n++] = '-';
  memcpy(d + n, p, (size_t)(w + sizeof w - p));
  n += (int)(w + sizeof w - p);
  d[n++] = '.';
  for (int i = digits - 1; i >= 0; i--, frac /= 10) d[n + i] = (char)('0' + frac % 10);
  n += digits;
  d[n] = '\0';
  return strtod(d, NULL) == v ? n : 0;
}

/* Whole numbers as integers (no printf); others with the 17 digits that
 * read back the same double; NaN and infinities as null (as cJSON). */
static void jb_num(jbuf *b, double v) {
  if (!isfinite(v)) {
    jb_lit(b, "null");
  } else if (v == 0 && signbit(v)) {
    jb_lit(b, "-0");
  } else if (v == floor(v) && fabs(v) < 1e15) {
    jb_int(b, (long long)v);
  } else {
    char d[32];
    int n = jb_fixed(d, v);
    if (!n) n = snprintf(d, sizeof d, "%.17g", v);
    jb_raw(b, d, n > 0 ? (size_t)n : 0);
  }
}

/* A wall-clock time to the microsecond (a record's times need no more):
 * integer arithmetic instead of a floating-point print. */
static void jb_time(jbuf *b, double t) {
  if (!(t >= 0 && t < 1e12)) {
    jb_num(b, t);
    return;
  }
  long long us = llround(t * 1e6);
  jb_int(b, us / 1000000);
  int frac = (int)(us % 1000000), digits = 6;
  if (!frac) return;
  while (frac % 10 == 0) frac /= 10, digits--;
  char d[8] = ".";
  for (int i = digits; i > 0; i--, frac /= 10) d[i] = (char)('0' + frac % 10);
  jb_raw(b, d, (size_t)digits + 1);
}

static void jb_add_str(jbuf *b, const char *k, const char *v) {
  if (!v) return;
  jb_key(b, k);
  jb_str(b, v);
}

static void jb_add_num(jbuf *b, const char *k, double v) {
  jb_key(b, k);
  jb_num(b, v);
}

static void jb_add_strs(jbuf *b, const char *k, char *const *v, size_t n) {
  if (!v || !n) return;
  jb_key(b, k);
  jb_raw(b, "[", 1);
  for (size_t i = 0; i < n; i++) {
    jb_sep(b);
    jb_str(b, v[i] ? v[i] : "");
  }
  jb_raw(b, "]", 1);
}

/* A cJSON tree (metadata, options) as cJSON would print it, without its
 * print buffer; depth bounded as cJSON's parser bounds it. */
static void jb_tree(jbuf *b, const cJSON *v, int depth) {
  const cJSON *e;
  if (depth > CJSON_NESTING_LIMIT) {
    b->bad = 1;
    return;
  }
  switch (v->type & 0xFF) {
  case cJSON_False: jb_lit(b, "false"); break;
  case cJSON_True: jb_lit(b, "true"); break;
  case cJSON_NULL: jb_lit(b, "null"); break;
  case cJSON_Number: jb_num(b, v->valuedouble); break;
  case cJSON_String: jb_str(b, v->valuestring ? v->valuestring : ""); break;
  case cJSON_Raw:
    if (v->valuestring) jb_lit(b, v->valuestring);
    else b->bad = 1;
    break;
  case cJSON_Array:
    jb_raw(b, "[", 1);
    cJSON_ArrayForEach(e, v) {
      jb_sep(b);
      jb_tree(b, e, depth + 1);
    }
    jb_raw(b, "]", 1);
    break;
  case cJSON_Object:
    jb_raw(b, "{", 1);
    cJSON_ArrayForEach(e, v) {
      jb_key(b, e->string ? e->string : "");
      jb_tree(b, e, depth + 1);
    }
    jb_raw(b, "}", 1);
    break;
  default: b->bad = 1;
  }
}

static void jb_add_json(jbuf *b, const char *k, const cJSON *v) {
  if (!v) return;
  jb_key(b, k);
  jb_tree(b, v, 0);
}

static void encode_target(jbuf *b, const nh_target *t) {
  jb_raw(b, "{", 1);
  jb_add_str(b, "platform", nh_platform_name(t->platform));
  jb_add_str(b, "url", t->url);
  jb_add_str(b, "label", t->label);
  jb_add_str(b, "secret", t->secret);
  jb_add_str(b, "method", t->method);
  jb_add_strs(b, "headers", t->headers, t->n_headers);
  jb_add_strs(b, "keywords", t->keywords, t->n_keywords);
  jb_add_json(b, "options", t->options);
  jb_add_str(b, "rate_key", t->rate_key);
  jb_key(b, "rate");
  jb_raw(b, "[", 1);
  for (int i = 0; i < t->n_rate; i++) {
    jb_sep(b);
    jb_raw(b, "[", 1);
    jb_num(b, t->rate[i].count);
    jb_raw(b, ",", 1);
    jb_num(b, t->rate[i].per);
    jb_raw(b, "]", 1);
  }
  jb_raw(b, "]", 1);
  jb_add_num(b, "overflow", t->overflow);
  jb_add_strs(b, "parts", t->parts, t->n_parts);
  jb_add_strs(b, "secrets", t->secrets, t->n_secrets);
  jb_key(b, "planned");
  jb_lit(b, t->planned ? "true" : "false");
  jb_raw(b, "}", 1);
}

static char *base64(const char *p, size_t n) {
  char *out = malloc(4 * ((n + 2) / 3) + 1);
  if (out) EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)p, (int)n);
  return out;
}

static void encode_attachment(jbuf *b, const nh_attachment *a) {
  jb_raw(b, "{", 1);
  jb_add_str(b, "filename", a->filename);
  jb_add_str(b, "content_type", a->content_type);
  jb_add_str(b, "path", a->path);
  if (a->content) {
    char *s = base64(a->content, a->content_len);
    if (!s) b->bad = 1;
    jb_add_str(b, "content", s);
    free(s);
  }
  jb_raw(b, "}", 1);
}

static void encode_retry(jbuf *b, const nh_retry *r) {
  jb_key(b, "retry");
  jb_raw(b, "{", 1);
#define RETRY_FIELD(P, section, key, field, type, dflt, min, max, above) \
  jb_add_num(b, #key, (double)r->field);
  NH_RETRY_OPTIONS(RETRY_FIELD, )
#undef RETRY_FIELD
  jb_raw(b, "}", 1);
}

static void encode_job(jbuf *b, const nh_job *job) {
  const nh_message *m = &job->msg;
  jb_raw(b, "{", 1);
  jb_add_num(b, "v", RECORD_VERSION);
  jb_add_str(b, "id", m->id);
  jb_add_str(b, "title", m->title);
  jb_add_str(b, "body", m->body);
  jb_add_str(b, "format", m->format);
  jb_add_num(b, "priority", m->priority);
  jb_add_num(b, "type", m->type);
  jb_add_json(b, "metadata", m->metadata);
  jb_add_json(b, "platform_data", m->platform_data);
  double now = nh_now(), wall = nh_wall_time();
  jb_key(b, "submitted_at");
  jb_time(b, job->submitted_at > 0 ? wall - (now - job->submitted_at) : wall);
  jb_add_num(b, "timeout", job->timeout);
  jb_key(b, "deadline");
  jb_time(b, job->deadline > 0 ? wall + (job->deadline - now) : 0);
  encode_retry(b, &job->retry);
  jb_key(b, "targets");
  jb_raw(b, "[", 1);
  for (size_t i = 0; i < m->n_targets; i++) {
    jb_sep(b);
    encode_target(b, &m->targets[i]);
  }
  jb_raw(b, "]", 1);
  if (m->n_attachments) {
    jb_key(b, "attachments");
    jb_raw(b, "[", 1);
    for (size_t i = 0; i < m->n_attachments; i++) {
      jb_sep(b);
      encode_attachment(b, &m->attachments[i]);
    }
    jb_raw(b, "]", 1);
  }
  jb_raw(b, "}", 1);
}

/* The distinct labels of the job's targets, as a JSON array. */
static char *encode_labels(const nh_job *job) {
  jbuf b = { 0 };
  jb_raw(&b, "[", 1);
  for (size_t i = 0; i < job->msg.n_targets; i++) {
    const char *l = job->msg.targets[i].label ? job->msg.targets[i].label : "";
    int seen = 0;
    for (size_t k = 0; k < i && !seen; k++)
      seen = strcmp(l, job->msg.targets[k].label ? job->msg.targets[k].label : "") == 0;
    if (seen) continue;
    jb_sep(&b);
    jb_str(&b, l);
  }
  jb_raw(&b, "]", 1);
  if (b.bad) free(b.p);
  return b.bad ? NULL : b.p;
}

void nh_spool_item_free(nh_spool_item *it) {
  if (!it) return;
  free((void *)it->id);
  free((void *)it->labels);
  free((void *)it->data);
  memset(it, 0, sizeof *it);
}

int nh_spool_item_from_job(nh_spool_item *it, const nh_job *job, double due, int attempt) {
  memset(it, 0, sizeof *it);
  jbuf b = { 0 };
  encode_job(&b, job);
  if (b.bad) free(b.p);
  it->id = nh_strdup(job->msg.id);
  it->labels = encode_labels(job);
  it->data = b.bad ? NULL : b.p;
  it->len = it->data ? b.len : 0;
  it->priority = job->msg.priority;
  it->due = due;
  it->attempt = attempt;
  if (!it->data || !it->labels || (job->msg.id && !it->id)) {
    nh_spool_item_free(it);
    return -1;
  }
  return 0;
}

/* ---- decoding ---------------------------------------------------------------- */

static const char *get_str(const cJSON *o, const char *k) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
  return cJSON_IsString(v) ? v->valuestring : NULL;
}

static double get_num(const cJSON *o, const char *k, double dflt) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
  return cJSON_IsNumber(v) ? v->valuedouble : dflt;
}

/* 0, or -1 (out of memory, or not an array of strings). */
static int get_strs(const cJSON *o, const char *k, char ***out, size_t *n) {
  const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, k), *v;
  if (!a) return 0;
  if (!cJSON_IsArray(a)) return -1;
  size_t count = (size_t)cJSON_GetArraySize(a);
  if (!count) return 0;
  if (!(*out = calloc(count, sizeof **out))) return -1;
  cJSON_ArrayForEach(v, a) {
    if (!cJSON_IsString(v) || !((*out)[*n] = nh_strdup(v->valuestring))) return -1;
    (*n)++;
  }
  return 0;
}

static int dup_str(const cJSON *o, const char *k, char **out) {
  const char *s = get_str(o, k);
  return s && !(*out = nh_strdup(s)) ? -1 : 0;
}

static int take_json(cJSON *o, const char *k, cJSON **out) {
  cJSON *v = cJSON_DetachItemFromObjectCaseSensitive(o, k);
  if (v && !cJSON_IsObject(v)) {
    cJSON_Delete(v);
    return -1;
  }
  *out = v;
  return 0;
}

static int decode_rate(const cJSON *o, nh_target *t) {
  const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, "rate"), *r;
  cJSON_ArrayForEach(r, a) {
    if (t->n_rate >= NH_MAX_RATE_RULES || cJSON_GetArraySize(r) != 2) return -1;
    const cJSON *c = cJSON_GetArrayItem(r, 0), *p = cJSON_GetArrayItem(r, 1);
    if (!cJSON_IsNumber(c) || !cJSON_IsNumber(p) ||
        !(c->valuedouble >= 1 && c->valuedouble <= 1e6) ||
        !(p->valuedouble > 0 && p->valuedouble <= 1e6))
      return -1;
    t->rate[t->n_rate].count = (int)c->valuedouble;
    t->rate[t->n_rate++].per = p->valuedouble;
  }
  return 0;
}

static int decode_target(cJSON *o, nh_target *t) {
  const char *platform = get_str(o, "platform");
  int id = platform ? nh_platform_from_name(platform) : -1;
  if (id < 0) return -1;
  t->platform = (nh_platform_id)id;
  double overflow = get_num(o, "overflow", NH_OVERFLOW_TRUNCATE);
  t->overflow = overflow == NH_OVERFLOW_SPLIT || overflow == NH_OVERFLOW_ERROR
                  ? (int)overflow
                  : NH_OVERFLOW_TRUNCATE;
  t->planned = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "planned"));
  if (dup_str(o, "url", &t->url) || dup_str(o, "label", &t->label) ||
      dup_str(o, "secret", &t->secret) || dup_str(o, "method", &t->method) ||
      dup_str(o, "rate_key", &t->rate_key) || take_json(o, "options", &t->options) ||
      get_strs(o, "headers", &t->headers, &t->n_headers) ||
      get_strs(o, "keywords", &t->keywords, &t->n_keywords) ||
      get_strs(o, "parts", &t->parts, &t->n_parts) ||
      get_strs(o, "secrets", &t->secrets, &t->n_secrets) || decode_rate(o, t))
    return -1;
  return 0;
}

static int decode_attachment(const cJSON *o, nh_attachment *a) {
  if (dup_str(o, "filename", &a->filename) || dup_str(o, "content_type", &a->content_type) ||
      dup_str(o, "path", &a->path))
    return -1;
  const char *b = get_str(o, "content");
  if (b && !(a->content = (char *)nh_base64_decode(b, &a->content_len))) return -1;
  return a->content || a->path ? 0 : -1;
}

static int decode_attachments(const cJSON *o, nh_message *m) {
  const cJSON *as = cJSON_GetObjectItemCaseSensitive(o, "attachments"), *a;
  size_t n = as ? (size_t)cJSON_GetArraySize(as) : 0;
  if (!n) return 0;
  if (!(m->attachments = calloc(n, sizeof *m->attachments))) return -1;
  cJSON_ArrayForEach(a, as) {
    if (decode_attachment(a, &m->attachments[m->n_attachments++])) return -1;
  }
  return 0;
}

/* Each field within its row's range (nh_options.h) before the cast: a
 * record's 1e300 or NaN is the default, never an int out of range. */
static void decode_retry(const cJSON *o, nh_retry *r) {
  const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, "retry");
  double v;
#define RETRY_FIELD(P, section, key, field, type, dflt, min, max, above) \
  v = get_num(x, #key, dflt);                                            \
  if (!(v >= (min) && v <= (max))) v = (dflt);                           \
  r->field = (NH_OPT_CTYPE_##type)v;
  NH_RETRY_OPTIONS(RETRY_FIELD, )
#undef RETRY_FIELD
  nh_retry_sanitize(r);
}

static int decode_message(cJSON *o, nh_job *job) {
  nh_message *m = &job->msg;
  double p = get_num(o, "priority", NH_PRIORITY_NORMAL);
  m->priority = p >= NH_PRIORITY_LOW && p <= NH_PRIORITY_URGENT ? (int)p : NH_PRIORITY_NORMAL;
  double ty = get_num(o, "type", NH_TYPE_NONE);
  m->type = ty >= NH_TYPE_NONE && ty <= NH_TYPE_FAILURE ? (int)ty : NH_TYPE_NONE;
  if (dup_str(o, "id", &m->id) || dup_str(o, "title", &m->title) || dup_str(o, "body", &m->body) ||
      dup_str(o, "format", &m->format) || take_json(o, "metadata", &m->metadata) ||
      take_json(o, "platform_data", &m->platform_data) || decode_attachments(o, m))
    return -1;
  if (!m->id || !nh_message_id_ok(m->id)) return -1;
  decode_retry(o, &job->retry);
  double now = nh_now(), wall = nh_wall_time(), t = get_num(o, "timeout", 0);
  double deadline = get_num(o, "deadline", 0), submitted = get_num(o, "submitted_at", wall);
  job->timeout = t > 0 && t <= 7 * NH_DAY ? t : 0;
  job->deadline = deadline > 0 ? now + (deadline - wall) : 0;
  m->deadline = job->deadline;
  job->submitted_at = now - (wall - submitted);
  return 0;
}

nh_job *nh_spool_job_decode(const char *data, size_t len, char *err, size_t errlen) {
  cJSON *o = cJSON_ParseWithLength(data, len);
  const cJSON *ts = cJSON_GetObjectItemCaseSensitive(o, "targets");
  int n = cJSON_IsArray(ts) ? cJSON_GetArraySize(ts) : 0;
  nh_job *job = n > 0 && get_num(o, "v", 0) == RECORD_VERSION ? nh_job_new((size_t)n) : NULL;
  int bad = !job || decode_message(o, job);
  for (int i = 0; !bad && i < n; i++)
    bad = decode_target(cJSON_GetArrayItem(ts, i), &job->msg.targets[i]);
  cJSON_Delete(o);
  if (!bad) return job;
  if (job) nh_job_release(job);
  if (err && errlen) snprintf(err, errlen, "a spool record that is not a job of this notifyhub");
  return NULL;
}

/* ---- the receipt of a failure ----------------------------------------------- */

static void add_str(cJSON *o, const char *k, const char *v) {
  if (v) cJSON_AddStringToObject(o, k, v);
}

/* s (may be NULL) with the target's secrets cut out, into o[k]. */
static void add_redacted(cJSON *o, const char *k, const char *s, size_t len, const nh_target *t) {
  if (!s) return;
  char *copy = nh_strndup(s, len);
  if (!copy) return;
  nh_redact_string(copy, t);
  cJSON_AddStringToObject(o, k, copy);
  free(copy);
}

static cJSON *receipt_result(const nh_target *t, const nh_result *r) {
  cJSON *o = cJSON_CreateObject();
  if (!o) return NULL;
  add_str(o, "platform", nh_platform_name(t->platform));
  add_str(o, "target", t->label);
  cJSON_AddBoolToObject(o, "success", r->success);
  if (!r->success) {
    const char *e = r->error ? r->error : nh_code_text(r->code);
    add_redacted(o, "error", e, strlen(e), t);
    add_str(o, "code", nh_code_name(r->code));
  }
  if (r->http_status) cJSON_AddNumberToObject(o, "http_status", (double)r->http_status);
  if (r->has_platform_code) cJSON_AddNumberToObject(o, "platform_code", (double)r->platform_code);
  cJSON_AddNumberToObject(o, "attempts", r->attempts);
  cJSON_AddNumberToObject(o, "duration_ms", r->duration_ms);
  if (r->response)
    add_redacted(o, "response", r->response, strnlen(r->response, r->response_len), t);
  return o;
}

char *nh_spool_receipt(const nh_job *job) {
  const nh_message *m = &job->msg;
  cJSON *o = cJSON_CreateObject(), *rs = cJSON_AddArrayToObject(o, "results");
  size_t ok = 0;
  for (size_t i = 0; rs && i < m->n_targets; i++) {
    cJSON_AddItemToArray(rs, receipt_result(&m->targets[i], &job->results[i]));
    ok += job->results[i].success != 0;
  }
  add_str(o, "message_id", m->id);
  add_str(o, "status", ok == m->n_targets && ok ? "success" : ok ? "partial" : "failed");
  cJSON_AddNumberToObject(o, "total", (double)m->n_targets);
  cJSON_AddNumberToObject(o, "successful", (double)ok);
  cJSON_AddNumberToObject(o, "failed", (double)(m->n_targets - ok));
  if (job->code != NH_OK) add_str(o, "code", nh_code_name(job->code));
  char *s = cJSON_PrintUnformatted(o);
  cJSON_Delete(o);
  return s;
}

/* ---- per-target progress ------------------------------------------------------ */

char *nh_spool_target_result(const nh_job *job, size_t i) {
  cJSON *o = receipt_result(&job->msg.targets[i], &job->results[i]);
  char *s = o ? cJSON_PrintUnformatted(o) : NULL;
  cJSON_Delete(o);
  return s;
}

char *nh_spool_target_waiting(const nh_job *job, size_t i, size_t part, double due_wall) {
  cJSON *o = cJSON_CreateObject();
  if (!o) return NULL;
  cJSON_AddNumberToObject(o, "attempts", job->results[i].attempts);
  cJSON_AddNumberToObject(o, "part", (double)part);
  cJSON_AddNumberToObject(o, "due", due_wall);
  char *s = cJSON_PrintUnformatted(o);
  cJSON_Delete(o);
  return s;
}

static nh_code code_named(const char *name) {
  for (int c = 0; name && c < NH_CODE_COUNT; c++)
    if (strcmp(nh_code_name((nh_code)c), name) == 0) return (nh_code)c;
  return NH_INTERNAL;
}

/* A number from a record, within [0, max] (NaN, negatives, 1e300: 0). */
static double get_count(const cJSON *o, const char *k, double max) {
  double v = get_num(o, k, 0);
  return v >= 0 && v <= max ? v : 0;
}

/* An ended target as it ended in the process that wrote it. */
static int resume_ended(const cJSON *o, nh_result *r) {
  r->success = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "success"));
  r->code = r->success ? NH_OK : code_named(get_str(o, "code"));
  if (!r->success && r->code == NH_OK) r->code = NH_INTERNAL;
  r->attempts = (int)get_count(o, "attempts", 1e6);
  r->http_status = (long)get_count(o, "http_status", 999);
  const cJSON *pc = cJSON_GetObjectItemCaseSensitive(o, "platform_code");
  if (cJSON_IsNumber(pc) && fabs(pc->valuedouble) < 1e15) {
    r->has_platform_code = 1;
    r->platform_code = (long)pc->valuedouble;
  }
  r->duration_ms = get_count(o, "duration_ms", 1e12);
  if (dup_str(o, "error", &r->error) || dup_str(o, "response", &r->response)) return -1;
  if (!r->success && !r->error && !(r->error = nh_strdup(nh_code_text(r->code)))) return -1;
  r->response_len = r->response ? strlen(r->response) : 0;
  return 0;
}

int nh_spool_job_resume(nh_job *job, const char *progress) {
  cJSON *a = progress ? cJSON_Parse(progress) : NULL, *e;
  size_t n = job->msg.n_targets;
  int rc = 0;
  double now = nh_now(), wall = nh_wall_time();
  cJSON_ArrayForEach(e, a) {
    const cJSON *t = cJSON_GetArrayItem(e, 0), *k = cJSON_GetArrayItem(e, 1);
    const cJSON *o = cJSON_GetArrayItem(e, 2);
    if (!cJSON_IsNumber(t) || !(t->valuedouble >= 0 && t->valuedouble < (double)n) ||
        !cJSON_IsNumber(k) || !cJSON_IsObject(o))
      continue; /* not ours: the target is sent again */
    size_t i = (size_t)t->valuedouble;
    nh_result *r = &job->results[i];
    if (r->success || r->code != NH_OK || r->error) continue;
    if (k->valuedouble != NH_SPOOL_TARGET_WAITING) {
      if ((rc = resume_ended(o, r)) != 0) break;
      continue;
    }
    if (!job->resume && !(job->resume = calloc(n, sizeof *job->resume))) {
      rc = -1;
      break;
    }
    size_t parts = job->msg.targets[i].n_parts;
    double part = get_count(o, "part", 1e9), due = get_num(o, "due", wall);
    r->attempts = (int)get_count(o, "attempts", 1e6);
    job->resume[i].waiting = 1;
    job->resume[i].part = parts && part < (double)parts ? (size_t)part : 0;
    r->parts_sent = (int)job->resume[i].part;
    job->resume[i].at = now + nh_delay_clamp(due - wall, NH_MAX_DELAY);
  }
  cJSON_Delete(a);
  return rc;
}

/* ---- a receipt from another client --------------------------------------------- */

static void result_clear(nh_result *r) {
  free(r->error);
  free(r->response);
  free(r->rejected);
  memset(r, 0, sizeof *r);
}

int nh_spool_job_receipt(nh_job *job, const char *receipt) {
  cJSON *o = receipt ? cJSON_Parse(receipt) : NULL;
  const cJSON *rs = cJSON_GetObjectItemCaseSensitive(o, "results");
  int rc = cJSON_IsArray(rs) ? 0 : -1;
  size_t n = job->msg.n_targets;
  for (size_t i = 0; rc == 0 && i < n; i++) {
    const cJSON *e = cJSON_GetArrayItem(rs, (int)i);
    nh_result *r = &job->results[i];
    if (cJSON_IsObject(e)) {
      result_clear(r);
      rc = resume_ended(e, r);
    } else if (!r->success && r->code == NH_OK) {
      nh_result_set(r, NH_INTERNAL, "the receipt has no result for this target");
    }
  }
  const char *code = get_str(o, "code");
  if (rc == 0) job->code = code ? code_named(code) : NH_OK;
  cJSON_Delete(o);
  return rc;
}
