/*
 * nh_ntfy.c: ntfy (ntfy.sh or a server of one's own). The message is the
 * body of a POST to the topic URL; title, priority, tags, markdown, click
 * and icon go as query parameters (ntfy reads each of its headers from the
 * query too, and a query carries UTF-8 where a header cannot). Auth: an
 * access token as "Authorization: Bearer", or user:password in the URL
 * (libcurl sends it as Basic). Success is 2xx with the stored message
 * {"id","event":"message",...}; errors are {"code":40301,"http":403,
 * "error":"..."}. ntfy keeps at most 4096 bytes as a message (more becomes
 * an attachment): the limit.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nh_internal.h"

#define NTFY_MAX_MESSAGE 4096

/* message.type as an emoji tag (none for info) and a priority 1..5. */
static const char *const type_tags[] = { NULL, "white_check_mark", "warning", "rotating_light" };
static const int type_priority[] = { 3, 3, 4, 5 };


/* The target's priority (an Apprise URL's ?priority=) decides; else a
 * message priority other than normal; a normal one leaves it to the type. */
static int ntfy_priority(const nh_message *m, const nh_target *t) {
  const char *fixed = nh_opt_string(t, "priority"); /* "1".."5": a choice */
  if (fixed) return atoi(fixed);
  switch (m->priority) {
  case NH_PRIORITY_LOW: return 2;
  case NH_PRIORITY_HIGH: return 4;
  case NH_PRIORITY_URGENT: return 5;
  default: return type_priority[nh_type_index(m)];
  }
}

static char *ntfy_render(const nh_message *m, const nh_target *t, int *in_chars) {
  (void)t;
  *in_chars = 0;
  return nh_body_text(m); /* markdown as written: ntfy renders it (markdown=yes) */
}

static size_t ntfy_limit(const nh_message *m, const nh_target *t) {
  (void)m;
  (void)t;
  return NTFY_MAX_MESSAGE;
}

static void query_add(nh_buf *q, const char *name, const char *value) {
  if (!value || !*value) return;
  char *enc = nh_url_encode(value);
  if (!enc) {
    q->failed = 1;
    return;
  }
  nh_buf_puts(q, q->len ? "&" : "");
  nh_buf_puts(q, name);
  nh_buf_puts(q, "=");
  nh_buf_puts(q, enc);
  free(enc);
}

/* The type's tag, then the target's message_tags, comma-separated. */
static void add_tags(nh_buf *q, const nh_message *m, const nh_target *t) {
  nh_buf tags = { 0 };
  if (type_tags[nh_type_index(m)]) nh_buf_puts(&tags, type_tags[nh_type_index(m)]);
  cJSON *item;
  cJSON_ArrayForEach(item, nh_opt_item(t, "message_tags")) {
    if (!cJSON_IsString(item)) continue;
    nh_buf_puts(&tags, tags.len ? "," : "");
    nh_buf_puts(&tags, item->valuestring);
  }
  if (tags.failed) q->failed = 1;
  query_add(q, "tags", tags.data);
  free(tags.data);
}

static char *ntfy_url(const nh_message *m, const nh_target *t) {
  nh_buf q = { 0 };
  char prio[4];
  snprintf(prio, sizeof prio, "%d", ntfy_priority(m, t));
  query_add(&q, "title", m->title);
  query_add(&q, "priority", prio);
  add_tags(&q, m, t);
  if (nh_format_is(m, "markdown")) query_add(&q, "markdown", "yes");
  query_add(&q, "click", nh_opt_string(t, "click"));
  query_add(&q, "icon", nh_opt_string(t, "icon"));
  char *url =
    q.failed ? NULL : nh_sprintf("%s%s%s", t->url, strchr(t->url, '?') ? "&" : "?", q.data);
  free(q.data);
  return url;
}

static int ntfy_headers(nh_request *req, const nh_target *t) {
  const char *token = nh_opt_string(t, "token");
  char *auth = token ? nh_sprintf("Authorization: Bearer %s", token) : NULL;
  int rc = nh_request_add_header(req, "Content-Type: text/plain; charset=utf-8") ||
           nh_request_add_header(req, "Expect:") || (token && nh_request_add_header(req, auth));
  free(auth);
  return rc;
}

static nh_code ntfy_build(const nh_message *m, const nh_target *t, nh_request *req, char *err,
                          size_t errlen) {
  int unused;
  const char *token = nh_opt_string(t, "token");
  if (token && strpbrk(token, "\r\n")) { /* the façade refuses it; a C caller may not */
    snprintf(err, errlen, "ntfy: CR or LF in the token");
    return NH_INVALID_MESSAGE;
  }
  req->body = ntfy_render(m, t, &unused);
  req->url = ntfy_url(m, t);
  if (!req->body || !req->url || ntfy_headers(req, t)) {
    snprintf(err, errlen, "out of memory while building the request");
    return NH_NO_MEMORY;
  }
  req->body_len = strlen(req->body);
  return NH_OK;
}

static void ntfy_classify(const nh_target *t, const nh_answer *a, nh_result *r) {
  (void)t;
  cJSON *root = cJSON_ParseWithLength(a->body, a->body_len);
  cJSON *id = cJSON_GetObjectItemCaseSensitive(root, "id");
  cJSON *code = cJSON_GetObjectItemCaseSensitive(root, "code");
  cJSON *error = cJSON_GetObjectItemCaseSensitive(root, "error");
  if (a->http_status >= 200 && a->http_status < 300 && cJSON_IsString(id)) {
    nh_result_set(r, NH_OK, NULL);
  } else {
    /* a 200 without a message (a login page in front of the server) is no delivery */
    nh_classify_http(a, r);
    if (r->code == NH_OK) r->code = NH_PLATFORM_REJECTED;
    if (nh_json_code(code, &r->platform_code)) r->has_platform_code = 1;
    nh_result_set(r, r->code, "ntfy: HTTP %ld: %.200s", a->http_status,
                  cJSON_IsString(error) ? error->valuestring : "no message in the answer");
  }
  cJSON_Delete(root);
}

/* The config section (config.lua checks each key by its kind). */
static const nh_platform_key ntfy_keys[] = {
  { "url", "http_url", NH_KEY_REQUIRED | NH_KEY_VALUE, NULL, NULL },
  { "token", "header_value", NH_KEY_OPTION | NH_KEY_SECRET, NULL, NULL },
  { "message_tags", "strings", NH_KEY_OPTION, NULL, NULL },
  { "click", "text", NH_KEY_OPTION, NULL, NULL },
  { "icon", "text", NH_KEY_OPTION, NULL, NULL },
  { "priority", "choice", NH_KEY_OPTION, "1,2,3,4,5", NULL },
  { "overflow", "choice", 0, "truncate,split,error", NULL },
  { NULL, NULL, 0, NULL, NULL },
};

/* ntfy's visitor limit (the same on ntfy.sh and a server's defaults): a
 * burst of 60, then one request per 5 s; 12 a minute never meets it. */
static const nh_platform_desc ntfy_desc = {
  .name = "ntfy",
  .keys = ntfy_keys,
  .value = NH_VALUE_URL,
  .rate = { .per_minute = 12 },
  .transient = NH_TRANSIENT_HTTP,
};

const nh_platform nh_platform_ntfy = {
  .name = "ntfy",
  .desc = &ntfy_desc,
  .build = ntfy_build,
  .render = ntfy_render,
  .limit = ntfy_limit,
  .classify = ntfy_classify,
};
