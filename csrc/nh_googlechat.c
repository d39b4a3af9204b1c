/*
 * nh_googlechat.c: Google Chat incoming webhooks (POST
 * https://chat.googleapis.com/v1/spaces/<space>/messages?key=...&token=...;
 * the key and token are secrets). JSON {text} in Chat's own markup: the
 * title in bold (*title*), markdown as *bold*, _italic_, `code`, ``` blocks
 * and <url|text> links, html as plain text; a success, warning or failure
 * message starts with an emoji (info: nothing). thread_key replies in that
 * thread (threadKey, falling back to a new thread). The message id goes as
 * requestId, which makes a resend idempotent. Success is 2xx with the
 * message ({"name":"spaces/.../messages/...",...}); errors are
 * {"error":{"code","message","status"}}; 429 RESOURCE_EXHAUSTED past one
 * message per second per space. Text: at most 4096 characters.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nh_internal.h"

#define GOOGLECHAT_MAX_TEXT 4096

/* message.type as a leading emoji: ✅ ⚠️ 🚨 (info: none). */
static const char *const type_mark[] = { NULL, "\xe2\x9c\x85 ", "\xe2\x9a\xa0\xef\xb8\x8f ",
                                         "\xf0\x9f\x9a\xa8 " };

/* Chat has no escape for its <users/all> mentions and <url|text> links: a
 * zero-width space after each < of the text keeps them from forming. */
static const char *const lt[] = { NH_GCHAT_LT };

static char *googlechat_render(const nh_message *m, const nh_target *t, int *in_chars) {
  (void)t;
  *in_chars = 1;
  nh_buf b = { 0 };
  const char *mark = type_mark[nh_type_index(m)];
  if (mark) nh_buf_puts(&b, mark);
  if (m->title) {
    nh_buf_puts(&b, "*");
    nh_buf_escape(&b, m->title, "<", lt);
    nh_buf_puts(&b, m->body && *m->body ? "*\n" : "*");
  }
  if (nh_format_is(m, "markdown")) {
    nh_buf_markdown(&b, m->body, NH_MD_GCHAT);
  } else {
    char *text = nh_body_text(m);
    if (text) nh_buf_escape(&b, text, "<", lt);
    else b.failed = 1;
    free(text);
  }
  return nh_buf_take(&b);
}

static size_t googlechat_limit(const nh_message *m, const nh_target *t) {
  (void)m;
  (void)t;
  return GOOGLECHAT_MAX_TEXT;
}

/* The message id as Chat's requestId: a resend (a retry, the spool after a
 * crash) returns the message made the first time instead of a second one.
 * A split message's parts after the first get "-2", "-3", ... */
static char *request_id(const nh_message *m, const nh_target *t) {
  size_t part = 0;
  while (part < t->n_parts && t->parts[part] != m->body) part++;
  if (part == t->n_parts || part == 0) return nh_url_encode(m->id ? m->id : "");
  char *id = nh_sprintf("%s-%zu", m->id ? m->id : "", part + 1);
  char *enc = id ? nh_url_encode(id) : NULL;
  free(id);
  return enc;
}

static char *googlechat_url(const nh_message *m, const nh_target *t) {
  const char *thread = nh_opt_string(t, "thread_key");
  char *req = request_id(m, t), *key = thread ? nh_url_encode(thread) : NULL;
  const char *sep = strchr(t->url, '?') ? "&" : "?";
  char *url = !req || (thread && !key) ? NULL
              : key ? nh_sprintf("%s%srequestId=%s&threadKey=%s&messageReplyOption="
                                 "REPLY_MESSAGE_FALLBACK_TO_NEW_THREAD",
                                 t->url, sep, req, key)
                    : nh_sprintf("%s%srequestId=%s", t->url, sep, req);
  free(req);
  free(key);
  return url;
}

static nh_code googlechat_build(const nh_message *m, const nh_target *t, nh_request *req, char *err,
                                size_t errlen) {
  int unused;
  char *text = googlechat_render(m, t, &unused);
  cJSON *root = cJSON_CreateObject();
  cJSON_AddStringToObject(root, "text", text ? text : "");
  free(text);
  return nh_request_json(req, t, googlechat_url(m, t), root, err, errlen);
}

static void googlechat_classify(const nh_target *t, const nh_answer *a, nh_result *r) {
  (void)t;
  cJSON *root = cJSON_ParseWithLength(a->body, a->body_len);
  cJSON *name = cJSON_GetObjectItemCaseSensitive(root, "name");
  cJSON *error = cJSON_GetObjectItemCaseSensitive(root, "error");
  cJSON *code = cJSON_GetObjectItemCaseSensitive(error, "code");
  cJSON *msg = cJSON_GetObjectItemCaseSensitive(error, "message");
  cJSON *status = cJSON_GetObjectItemCaseSensitive(error, "status");
  if (a->http_status >= 200 && a->http_status < 300 && cJSON_IsString(name)) {
    nh_result_set(r, NH_OK, NULL);
  } else {
    nh_classify_http(a, r);
    if (r->code == NH_OK) r->code = NH_PLATFORM_REJECTED; /* 200 without the message */
    if (nh_json_code(code, &r->platform_code)) r->has_platform_code = 1;
    nh_result_set(r, r->code, "googlechat: HTTP %ld: %.40s%s%.200s", a->http_status,
                  cJSON_IsString(status) ? status->valuestring : "",
                  cJSON_IsString(status) ? ": " : "",
                  cJSON_IsString(msg) ? msg->valuestring : "no message in the answer");
  }
  cJSON_Delete(root);
}

/* The config section (config.lua checks each key by its kind). */
static const nh_platform_key googlechat_keys[] = {
  { "webhook_url", "http_url", NH_KEY_REQUIRED | NH_KEY_VALUE, NULL, NULL },
  { "thread_key", "text", NH_KEY_OPTION, NULL, NULL },
  { "overflow", "choice", 0, "truncate,split,error", NULL },
  { NULL, NULL, 0, NULL, NULL },
};

/* Chat's per-space limit for webhooks: one message a second. */
static const nh_platform_desc googlechat_desc = {
  .name = "googlechat",
  .keys = googlechat_keys,
  .value = NH_VALUE_URL,
  .rate = { .per_second = 1 },
  .transient = NH_TRANSIENT_HTTP,
};

const nh_platform nh_platform_googlechat = {
  .name = "googlechat",
  .desc = &googlechat_desc,
  .build = googlechat_build,
  .render = googlechat_render,
  .limit = googlechat_limit,
  .classify = googlechat_classify,
};
