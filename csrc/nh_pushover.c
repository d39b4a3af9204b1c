/*
 * nh_pushover.c: Pushover's messages API. A form POST to api_url
 * (https://api.pushover.net/1/messages.json) with the application's token,
 * the user (or group) key, message (at most 1024 characters: the limit),
 * title (cut at 250), priority (-2..2; 2, "emergency", repeats every
 * `retry` seconds until acknowledged or `expire` passes), device, sound
 * and url. Markdown goes as Pushover's HTML (html=1: <b>, <i>, <a href>).
 * Success is {"status":1,"request":...}; a refusal is status 0 with
 * errors: [...] (under a 4xx). 429 means the application's monthly quota
 * is spent: not worth another attempt this month, so not retried.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nh_internal.h"

#define PUSHOVER_MAX_MESSAGE 1024
#define PUSHOVER_MAX_TITLE 250

/* The target's priority (an Apprise URL's ?priority=) decides; else a
 * message priority other than normal; a normal one leaves it to the type:
 * a failure is high (1), the rest normal (0). */
static int pushover_priority(const nh_message *m, const nh_target *t) {
  const char *fixed = nh_opt_string(t, "priority"); /* "-2".."2": a choice */
  if (fixed) return atoi(fixed);
  switch (m->priority) {
  case NH_PRIORITY_LOW: return -1;
  case NH_PRIORITY_HIGH: return 1;
  case NH_PRIORITY_URGENT: return 2;
  default: return m->type == NH_TYPE_FAILURE ? 1 : 0;
  }
}

static char *pushover_render(const nh_message *m, const nh_target *t, int *in_chars) {
  (void)t;
  *in_chars = 1;
  if (!nh_format_is(m, "markdown")) return nh_body_text(m);
  nh_buf b = { 0 };
  nh_buf_markdown(&b, m->body, NH_MD_PUSHOVER);
  return nh_buf_take(&b);
}

static size_t pushover_limit(const nh_message *m, const nh_target *t) {
  (void)m;
  (void)t;
  return PUSHOVER_MAX_MESSAGE;
}

static void form_add(nh_buf *f, const char *name, const char *value, size_t len) {
  if (!value) return;
  char *cut = nh_strndup(value, len);
  char *enc = cut ? nh_url_encode(cut) : NULL;
  free(cut);
  if (!enc) {
    f->failed = 1;
    return;
  }
  nh_buf_puts(f, f->len ? "&" : "");
  nh_buf_puts(f, name);
  nh_buf_puts(f, "=");
  nh_buf_puts(f, enc);
  free(enc);
}

static void form_str(nh_buf *f, const char *name, const char *value) {
  if (value) form_add(f, name, value, strlen(value));
}

static char *pushover_form(const nh_message *m, const nh_target *t) {
  int unused, prio = pushover_priority(m, t);
  char *text = pushover_render(m, t, &unused), num[8];
  nh_buf f = { 0 };
  form_str(&f, "token", nh_opt_string(t, "token"));
  form_str(&f, "user", nh_opt_string(t, "user"));
  /* Pushover refuses an empty message: a title alone becomes the message */
  int has_text = text && *text;
  const char *msg = has_text ? text : m->title ? m->title : ""; /* a title: cut to the limit */
  form_add(&f, "message", msg,
           has_text ? strlen(msg) : nh_utf8_prefix(msg, strlen(msg), PUSHOVER_MAX_MESSAGE, 1));
  free(text);
  if (m->title && has_text)
    form_add(&f, "title", m->title,
             nh_utf8_prefix(m->title, strlen(m->title), PUSHOVER_MAX_TITLE, 1));
  snprintf(num, sizeof num, "%d", prio);
  form_str(&f, "priority", num);
  if (prio == 2) form_str(&f, "retry", "60"), form_str(&f, "expire", "3600");
  if (nh_format_is(m, "markdown")) form_str(&f, "html", "1");
  const char *opts[] = { "device", "sound", "url" };
  for (size_t i = 0; i < sizeof opts / sizeof *opts; i++)
    form_str(&f, opts[i], nh_opt_string(t, opts[i]));
  return nh_buf_take(&f); /* NULL when out of memory */
}

static nh_code pushover_build(const nh_message *m, const nh_target *t, nh_request *req, char *err,
                              size_t errlen) {
  req->url = nh_strdup(t->url);
  req->body = pushover_form(m, t);
  struct curl_slist *l = curl_slist_append(NULL, "Content-Type: application/x-www-form-urlencoded");
  struct curl_slist *l2 = l ? curl_slist_append(l, "Expect:") : NULL;
  req->headers = l2 ? l2 : l;
  if (!req->url || !req->body || !l2) {
    snprintf(err, errlen, "out of memory while building the request");
    return NH_NO_MEMORY;
  }
  req->body_len = strlen(req->body);
  return NH_OK;
}

/* errors: ["user identifier is invalid", ...] joined with "; ". */
static char *error_list(const cJSON *errors) {
  nh_buf b = { 0 };
  const cJSON *e;
  cJSON_ArrayForEach(e, errors) {
    if (!cJSON_IsString(e)) continue;
    nh_buf_puts(&b, b.len ? "; " : "");
    nh_buf_puts(&b, e->valuestring);
  }
  return nh_buf_take(&b);
}

static void pushover_classify(const nh_target *t, const nh_answer *a, nh_result *r) {
  (void)t;
  cJSON *root = cJSON_ParseWithLength(a->body, a->body_len);
  cJSON *status = cJSON_GetObjectItemCaseSensitive(root, "status");
  long st = 0;
  int has_status = nh_json_code(status, &st);
  if (a->http_status >= 200 && a->http_status < 300 && has_status && st == 1) {
    nh_result_set(r, NH_OK, NULL);
  } else {
    char *errors = error_list(cJSON_GetObjectItemCaseSensitive(root, "errors"));
    nh_classify_http(a, r);
    if (r->code == NH_OK) r->code = NH_PLATFORM_REJECTED; /* 200 without status 1 */
    if (has_status) r->platform_code = st, r->has_platform_code = 1;
    nh_result_set(r, r->code, "pushover: HTTP %ld: %.300s", a->http_status,
                  errors && *errors ? errors : "no status 1 in the answer");
    free(errors);
  }
  cJSON_Delete(root);
}

/* The config section (config.lua checks each key by its kind). */
static const nh_platform_key pushover_keys[] = {
  { "token", "text", NH_KEY_REQUIRED | NH_KEY_OPTION | NH_KEY_SECRET, NULL, NULL },
  { "user", "text", NH_KEY_REQUIRED | NH_KEY_OPTION | NH_KEY_SECRET, NULL, NULL },
  { "api_url", "http_url", NH_KEY_VALUE, NULL, "https://api.pushover.net/1/messages.json" },
  { "device", "text", NH_KEY_OPTION, NULL, NULL },
  { "sound", "text", NH_KEY_OPTION, NULL, NULL },
  { "url", "text", NH_KEY_OPTION, NULL, NULL },
  { "priority", "choice", NH_KEY_OPTION, "-2,-1,0,1,2", NULL },
  { "overflow", "choice", 0, "truncate,split,error", NULL },
  { NULL, NULL, 0, NULL, NULL },
};

/* Pushover's quota is per month (10,000 messages per application): no
 * window here holds it, and its 429 is not retried. */
static const nh_platform_desc pushover_desc = {
  .name = "pushover",
  .keys = pushover_keys,
  .value = NH_VALUE_URL,
  .rate = { 0 },
  .transient =
    NH_FAIL_BIT(NETWORK) | NH_FAIL_BIT(TIMEOUT) | NH_FAIL_BIT(HTTP_408) | NH_FAIL_BIT(HTTP_5XX),
};

const nh_platform nh_platform_pushover = {
  .name = "pushover",
  .desc = &pushover_desc,
  .build = pushover_build,
  .render = pushover_render,
  .limit = pushover_limit,
  .classify = pushover_classify,
};
