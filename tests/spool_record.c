/*
 * spool_record.c: a spool record (nh_spool_item_from_job, written straight
 * as JSON text since the cJSON tree cost ~5 us per send) against the
 * cJSON-built record of the earlier writer (kept below as the reference):
 * the same JSON values for ordinary and hostile jobs (quotes, backslashes,
 * control characters, UTF-8, NaN/inf/1e300/negative numbers, fractions),
 * times equal to the microsecond; every record decodes back to the job;
 * a record as the earlier writer printed it still decodes
 * (spec/spool_record_spec.lua builds and runs it).
 *
 * Prints one "PASS ..." or "FAIL ..." line per check; exits 1 on a FAIL.
 */
#include <math.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nh_internal.h"

#define RECORD_VERSION 1

static int failures;

static void check(int ok, const char *what) {
  printf("%s record: %s\n", ok ? "PASS" : "FAIL", what);
  if (!ok) failures++;
  fflush(stdout);
}

/* ---- the earlier writer (cJSON tree, printed), the reference ---------------- */

static void add_str(cJSON *o, const char *k, const char *v) {
  if (v) cJSON_AddStringToObject(o, k, v);
}

static void add_strs(cJSON *o, const char *k, char *const *v, size_t n) {
  if (!v || !n) return;
  cJSON *a = cJSON_AddArrayToObject(o, k);
  for (size_t i = 0; a && i < n; i++) cJSON_AddItemToArray(a, cJSON_CreateString(v[i] ? v[i] : ""));
}

static void add_json(cJSON *o, const char *k, const cJSON *v) {
  if (v) cJSON_AddItemToObject(o, k, cJSON_Duplicate(v, 1));
}

static cJSON *encode_target(const nh_target *t) {
  cJSON *o = cJSON_CreateObject();
  if (!o) return NULL;
  add_str(o, "platform", nh_platform_name(t->platform));
  add_str(o, "url", t->url);
  add_str(o, "label", t->label);
  add_str(o, "secret", t->secret);
  add_str(o, "method", t->method);
  add_strs(o, "headers", t->headers, t->n_headers);
  add_strs(o, "keywords", t->keywords, t->n_keywords);
  add_json(o, "options", t->options);
  add_str(o, "rate_key", t->rate_key);
  cJSON *rate = cJSON_AddArrayToObject(o, "rate");
  for (int i = 0; rate && i < t->n_rate; i++) {
    cJSON *r = cJSON_CreateArray();
    cJSON_AddItemToArray(r, cJSON_CreateNumber(t->rate[i].count));
    cJSON_AddItemToArray(r, cJSON_CreateNumber(t->rate[i].per));
    cJSON_AddItemToArray(rate, r);
  }
  cJSON_AddNumberToObject(o, "overflow", t->overflow);
  add_strs(o, "parts", t->parts, t->n_parts);
  add_strs(o, "secrets", t->secrets, t->n_secrets);
  cJSON_AddBoolToObject(o, "planned", t->planned);
  return o;
}

static char *base64(const char *p, size_t n) {
  char *out = malloc(4 * ((n + 2) / 3) + 1);
  if (out) EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)p, (int)n);
  return out;
}

static cJSON *encode_attachment(const nh_attachment *a) {
  cJSON *o = cJSON_CreateObject();
  if (!o) return NULL;
  add_str(o, "filename", a->filename);
  add_str(o, "content_type", a->content_type);
  add_str(o, "path", a->path);
  if (a->content) {
    char *b = base64(a->content, a->content_len);
    add_str(o, "content", b);
    free(b);
  }
  return o;
}

static void encode_retry(cJSON *o, const nh_retry *r) {
  cJSON *x = cJSON_AddObjectToObject(o, "retry");
#define RETRY_FIELD(P, section, key, field, type, dflt, min, max, above) \
  cJSON_AddNumberToObject(x, #key, (double)r->field);
  if (x) NH_RETRY_OPTIONS(RETRY_FIELD, )
#undef RETRY_FIELD
}

static cJSON *encode_job(const nh_job *job) {
  const nh_message *m = &job->msg;
  cJSON *o = cJSON_CreateObject();
  if (!o) return NULL;
  cJSON_AddNumberToObject(o, "v", RECORD_VERSION);
  add_str(o, "id", m->id);
  add_str(o, "title", m->title);
  add_str(o, "body", m->body);
  add_str(o, "format", m->format);
  cJSON_AddNumberToObject(o, "priority", m->priority);
  cJSON_AddNumberToObject(o, "type", m->type);
  add_json(o, "metadata", m->metadata);
  add_json(o, "platform_data", m->platform_data);
  double now = nh_now(), wall = nh_wall_time();
  cJSON_AddNumberToObject(o, "submitted_at",
                          job->submitted_at > 0 ? wall - (now - job->submitted_at) : wall);
  cJSON_AddNumberToObject(o, "timeout", job->timeout);
  cJSON_AddNumberToObject(o, "deadline", job->deadline > 0 ? wall + (job->deadline - now) : 0);
  encode_retry(o, &job->retry);
  cJSON *ts = cJSON_AddArrayToObject(o, "targets");
  for (size_t i = 0; ts && i < m->n_targets; i++)
    cJSON_AddItemToArray(ts, encode_target(&m->targets[i]));
  cJSON *as = m->n_attachments ? cJSON_AddArrayToObject(o, "attachments") : NULL;
  for (size_t i = 0; as && i < m->n_attachments; i++)
    cJSON_AddItemToArray(as, encode_attachment(&m->attachments[i]));
  return o;
}

/* ---- jobs -------------------------------------------------------------------- */

static const char HOSTILE[] =
  "q\"uote\\back/slash\b\f\n\r\t\x01\x1f\x7f caf\xc3\xa9 \xe2\x9c\x93 </script>";

static char **strs(size_t n, const char *a, const char *b) {
  char **v = calloc(n, sizeof *v);
  v[0] = nh_strdup(a);
  if (n > 1) v[1] = nh_strdup(b);
  return v;
}

/* kind 0: an ordinary webhook; 1: hostile strings and numbers, two
 * targets, attachments, options; 2: no title, no metadata, no rate. */
static nh_job *make_job(int kind) {
  nh_job *job = nh_job_new(kind == 1 ? 2 : 1);
  nh_message *m = &job->msg;
  m->id = nh_strdup(kind == 1 ? "id-hostile" : "id-plain");
  m->body = nh_strdup(kind == 1 ? HOSTILE : "hello 1");
  if (kind != 2) m->title = nh_strdup(kind == 1 ? HOSTILE : "disk full");
  m->format = nh_strdup("text");
  m->priority = kind == 1 ? NH_PRIORITY_URGENT : NH_PRIORITY_NORMAL;
  if (kind == 1) {
    m->metadata = cJSON_Parse("{\"a\":\"\\u0001\\\"x\",\"n\":[1e300,-0.1,2147483648,0.5,60.25,-"
                              "1234.5,0.000001,1e-7,-0.0,\"\",123456789.123456,999999999.9999999,"
                              "9007199254740993,-1e-300,2.9999999999999996,-7.0000000000000009]}");
    m->platform_data = cJSON_Parse("{\"k\":{\"z\":null,\"t\":true}}");
    m->n_attachments = 2;
    m->attachments = calloc(2, sizeof *m->attachments);
    m->attachments[0].filename = nh_strdup("a \"b\".bin");
    m->attachments[0].content = malloc(5);
    memcpy(m->attachments[0].content, "\0\1\2\3\xff", 5);
    m->attachments[0].content_len = 5;
    m->attachments[1].filename = nh_strdup("report.pdf");
    m->attachments[1].path = nh_strdup("/tmp/report.pdf");
    m->attachments[1].content_type = nh_strdup("application/pdf");
  } else if (kind == 0) {
    m->metadata = cJSON_Parse("{\"team\":\"ops\"}");
  }
  job->retry.max_attempts = kind == 1 ? 100 : 3;
  job->retry.initial_delay = kind == 1 ? 0.1 : 0.5;
  job->retry.max_delay = kind == 1 ? 1.0 / 3 : 30;
  job->retry.multiplier = kind == 1 ? NAN : 2;
  job->retry.max_elapsed = kind == 1 ? 1e300 : 0;
  job->timeout = kind == 1 ? 12.345678901 : 0;
  double now = nh_now();
  job->submitted_at = now - 0.25;
  job->deadline = kind == 1 ? now + 3600.5 : 0;
  for (size_t i = 0; i < m->n_targets; i++) {
    nh_target *t = &m->targets[i];
    t->platform = i ? NH_PLATFORM_SLACK : NH_PLATFORM_WEBHOOK;
    t->url = nh_strdup(kind == 1 ? "https://h.example/\"x\\y\n" : "https://hooks.example/TOKEN");
    t->label = nh_strdup(kind == 1 && i ? HOSTILE : "webhook https://hooks.example/***");
    t->overflow = kind == 1 ? NH_OVERFLOW_SPLIT : NH_OVERFLOW_TRUNCATE;
    t->planned = kind == 1;
    if (kind == 2) continue;
    t->secret = nh_strdup("SIGN-SECRET");
    t->method = nh_strdup("PUT");
    t->n_headers = 2;
    t->headers = strs(2, "X-Team: ops", kind == 1 ? HOSTILE : "X-B: 1");
    t->n_secrets = 1;
    t->secrets = strs(1, "TOKEN", NULL);
    t->n_rate = kind == 1 ? 2 : 1;
    t->rate[0].count = 5;
    t->rate[0].per = 1;
    t->rate[1].count = 100;
    t->rate[1].per = 60.5;
    if (kind == 1) {
      t->rate_key = nh_strdup("key \x02");
      t->options = cJSON_Parse("{\"channel\":\"#ops\",\"n\":-3}");
      t->n_keywords = 1;
      t->keywords = strs(1, "alert", NULL);
      t->n_parts = 2;
      t->parts = strs(2, "part one", HOSTILE);
    }
  }
  return job;
}

/* ---- checks ------------------------------------------------------------------ */

/* a and b alike, but the two times (equal within a microsecond). */
static int same_record(cJSON *a, cJSON *b) {
  const char *times[] = { "submitted_at", "deadline" };
  for (int i = 0; i < 2; i++) {
    cJSON *x = cJSON_DetachItemFromObjectCaseSensitive(a, times[i]);
    cJSON *y = cJSON_DetachItemFromObjectCaseSensitive(b, times[i]);
    /* the reference takes its wall clock a moment later: a few us apart */
    int ok = cJSON_IsNumber(x) && cJSON_IsNumber(y) && fabs(x->valuedouble - y->valuedouble) < 0.01;
    cJSON_Delete(x);
    cJSON_Delete(y);
    if (!ok) return 0;
  }
  return cJSON_Compare(a, b, 1);
}

static int same_str(const char *a, const char *b) {
  return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static int same_job(const nh_job *a, const nh_job *b) {
  const nh_message *x = &a->msg, *y = &b->msg;
  int ok =
    same_str(x->id, y->id) && same_str(x->title, y->title) && same_str(x->body, y->body) &&
    same_str(x->format, y->format) && x->priority == y->priority && x->n_targets == y->n_targets &&
    x->n_attachments == y->n_attachments &&
    cJSON_Compare(x->metadata, y->metadata, 1) == (x->metadata != NULL || y->metadata != NULL) &&
    fabs(a->submitted_at - b->submitted_at) < 1e-3 && fabs(a->deadline - b->deadline) < 1e-3 &&
    a->retry.max_attempts == b->retry.max_attempts;
  for (size_t i = 0; ok && i < x->n_targets; i++) {
    const nh_target *s = &x->targets[i], *t = &y->targets[i];
    ok = s->platform == t->platform && same_str(s->url, t->url) && same_str(s->label, t->label) &&
         same_str(s->secret, t->secret) && s->n_headers == t->n_headers && s->n_rate == t->n_rate &&
         s->overflow == t->overflow && s->planned == t->planned && s->n_parts == t->n_parts;
    for (size_t k = 0; ok && k < s->n_headers; k++) ok = same_str(s->headers[k], t->headers[k]);
    for (size_t k = 0; ok && k < s->n_parts; k++) ok = same_str(s->parts[k], t->parts[k]);
    for (int k = 0; ok && k < s->n_rate; k++)
      ok = s->rate[k].count == t->rate[k].count && s->rate[k].per == t->rate[k].per;
  }
  for (size_t i = 0; ok && i < x->n_attachments; i++) {
    const nh_attachment *s = &x->attachments[i], *t = &y->attachments[i];
    ok = same_str(s->filename, t->filename) && same_str(s->path, t->path) &&
         s->content_len == t->content_len &&
         (!s->content || memcmp(s->content, t->content, s->content_len) == 0);
  }
  return ok;
}

static void check_kind(int kind) {
  char what[128];
  nh_job *job = make_job(kind);
  nh_spool_item it;
  int rc = nh_spool_item_from_job(&it, job, 0, 0);
  snprintf(what, sizeof what, "job %d: made", kind);
  check(rc == 0 && it.data && it.len == strlen(it.data), what);
  if (rc) return;
  /* the reference as it was stored: printed, then parsed (NaN: null) */
  cJSON *tree = encode_job(job), *got = cJSON_ParseWithLength(it.data, it.len);
  char *text = cJSON_PrintUnformatted(tree);
  cJSON *ref = cJSON_Parse(text);
  free(text);
  cJSON_Delete(tree);
  snprintf(what, sizeof what, "job %d: the same JSON as the cJSON writer's", kind);
  check(got && same_record(got, ref), what);
  if (got && ref && !cJSON_Compare(got, ref, 1)) {
    char *a = cJSON_PrintUnformatted(got), *b = cJSON_PrintUnformatted(ref);
    printf("  new: %s\n  old: %s\n", a, b);

    free(a), free(b);
  }
  cJSON_Delete(got);
  cJSON_Delete(ref);
  char err[256] = "";
  nh_job *back = nh_spool_job_decode(it.data, it.len, err, sizeof err);
  snprintf(what, sizeof what, "job %d: decodes back to the same job", kind);
  check(back && same_job(job, back), what);
  /* numbers exactly: the same text from cJSON's own print of both */
  char *m0 = cJSON_PrintUnformatted(job->msg.metadata);
  char *m1 = back ? cJSON_PrintUnformatted(back->msg.metadata) : NULL;
  snprintf(what, sizeof what, "job %d: metadata numbers read back exactly", kind);
  check(same_str(m0, m1), what);
  free(m0), free(m1);
  snprintf(what, sizeof what, "job %d: labels are a JSON array of distinct labels", kind);
  cJSON *labels = cJSON_Parse(it.labels);
  check(cJSON_IsArray(labels) && cJSON_GetArraySize(labels) == (kind == 1 ? 2 : 1) &&
          strcmp(cJSON_GetArrayItem(labels, 0)->valuestring, job->msg.targets[0].label) == 0,
        what);
  cJSON_Delete(labels);
  if (back) nh_job_release(back);
  nh_spool_item_free(&it);
  nh_job_release(job);
}

/* A record exactly as the earlier (cJSON) writer printed it. */
static void check_earlier_record(void) {
  static const char rec[] =
    "{\"v\":1,\"id\":\"old-1\",\"title\":\"t\",\"body\":\"b \\u0001\\\"\",\"format\":\"text\","
    "\"priority\":2,\"type\":0,\"metadata\":{\"team\":\"ops\"},\"submitted_at\":1795000000.123456,"
    "\"timeout\":0,\"deadline\":0,\"retry\":{\"max_attempts\":3,\"initial_delay\":0.5,"
    "\"max_delay\":30,\"multiplier\":2,\"max_elapsed\":0},\"targets\":[{\"platform\":\"webhook\","
    "\"url\":\"https://hooks.example/T\",\"label\":\"webhook x\",\"rate\":[[5,1]],\"overflow\":0,"
    "\"planned\":false}]}";
  char err[256] = "";
  nh_job *job = nh_spool_job_decode(rec, strlen(rec), err, sizeof err);
  check(job && strcmp(job->msg.id, "old-1") == 0 && strcmp(job->msg.body, "b \x01\"") == 0 &&
          job->msg.n_targets == 1 && job->msg.targets[0].n_rate == 1 &&
          job->retry.initial_delay == 0.5,
        "a record the earlier writer made still decodes");
  if (job) nh_job_release(job);
}

int main(void) {
  for (int kind = 0; kind < 3; kind++) check_kind(kind);
  check_earlier_record();
  return failures ? 1 : 0;
}
