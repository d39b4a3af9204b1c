/*
 * nh_gotify.c: Gotify, a server of one's own. POST <server>/message with
 * the application's token in X-Gotify-Key and JSON {title, message,
 * priority, extras}: markdown goes as written with extras."client::display"
 * .contentType "text/markdown" (html as plain text); click adds
 * extras."client::notification".click.url. Success is 2xx with the stored
 * message ({"id",...}); errors are {"error","errorCode","errorDescription"}.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nh_internal.h"

/* message.type as Gotify's priority (0-10; 8 and up alerts on Android). */
static const int type_priority[] = { 5, 5, 7, 8 };

/* The target's priority (an Apprise URL's ?priority=) decides; else a
 * message priority other than normal; a normal one leaves it to the type. */
static int gotify_priority(const nh_message *m, const nh_target *t) {
  const char *fixed = nh_opt_string(t, "priority"); /* "0".."10": a choice */
  if (fixed) return atoi(fixed);
  switch (m->priority) {
  case NH_PRIORITY_LOW: return 2;
  case NH_PRIORITY_HIGH: return 8;
  case NH_PRIORITY_URGENT: return 10;
  default: return type_priority[nh_type_index(m)];
  }
}

static cJSON *gotify_extras(const nh_message *m, const nh_target *t) {
  cJSON *extras = cJSON_CreateObject();
  cJSON *display = cJSON_AddObjectToObject(extras, "client::display");
  cJSON_AddStringToObject(display, "contentType",
                          nh_format_is(m, "markdown") ? "text/markdown" : "text/plain");
  const char *click = nh_opt_string(t, "click");
  if (click) {
    cJSON *note = cJSON_AddObjectToObject(extras, "client::notification");
    cJSON_AddStringToObject(cJSON_AddObjectToObject(note, "click"), "url", click);
  }
  return extras;
}

/* <url>/message, the server's URL without its trailing slashes. */
static char *gotify_url(const nh_target *t) {
  size_t n = strlen(t->url);
  while (n && t->url[n - 1] == '/') n--;
  return nh_sprintf("%.*s/message", (int)n, t->url);
}

static nh_code gotify_build(const nh_message *m, const nh_target *t, nh_request *req, char *err,
                            size_t errlen) {
  const char *token = nh_opt_string(t, "token");
  if (token && strpbrk(token, "\r\n")) { /* the façade refuses it; a C caller may not */
    snprintf(err, errlen, "gotify: CR or LF in the token");
    return NH_INVALID_MESSAGE;
  }
  char *body = nh_body_text(m);
  cJSON *root = cJSON_CreateObject();
  /* Gotify refuses an empty message: a title alone becomes the message */
  int has_body = body && *body;
  if (m->title && has_body) cJSON_AddStringToObject(root, "title", m->title);
  cJSON_AddStringToObject(root, "message", has_body ? body : m->title ? m->title : "");
  free(body);
  cJSON_AddNumberToObject(root, "priority", gotify_priority(m, t));
  cJSON_AddItemToObject(root, "extras", gotify_extras(m, t));
  nh_code rc = nh_request_json(req, t, gotify_url(t), root, err, errlen);
  if (rc != NH_OK || !token) return rc;
  char *line = nh_sprintf("X-Gotify-Key: %s", token);
  int failed = nh_request_add_header(req, line);
  free(line);
  if (failed) {
    snprintf(err, errlen, "out of memory while building the request");
    return NH_NO_MEMORY;
  }
  return NH_OK;
}

static void gotify_classify(const nh_target *t, const nh_answer *a, nh_result *r) {
  (void)t;
  cJSON *root = cJSON_ParseWithLength(a->body, a->body_len);
  cJSON *id = cJSON_GetObjectItemCaseSensitive(root, "id");
  cJSON *error = cJSON_GetObjectItemCaseSensitive(root, "error");
  cJSON *code = cJSON_GetObjectItemCaseSensitive(root, "errorCode");
  cJSON *desc = cJSON_GetObjectItemCaseSensitive(root, "errorDescription");
  if (a->http_status >= 200 && a->http_status < 300 && cJSON_IsNumber(id)) {
    nh_result_set(r, NH_OK, NULL);
  } else {
    nh_classify_http(a, r);
    if (r->code == NH_OK) r->code = NH_PLATFORM_REJECTED; /* 200 without the message */
    if (nh_json_code(code, &r->platform_code)) r->has_platform_code = 1;
    nh_result_set(r, r->code, "gotify: HTTP %ld: %.100s%s%.200s", a->http_status,
                  cJSON_IsString(error) ? error->valuestring : "no message in the answer",
                  cJSON_IsString(desc) ? ": " : "", cJSON_IsString(desc) ? desc->valuestring : "");
  }
  cJSON_Delete(root);
}

/* The config section (config.lua checks each key by its kind). */
static const nh_platform_key gotify_keys[] = {
  { "url", "http_url", NH_KEY_REQUIRED | NH_KEY_VALUE, NULL, NULL },
  { "token", "header_value", NH_KEY_REQUIRED | NH_KEY_OPTION | NH_KEY_SECRET, NULL, NULL },
  { "click", "text", NH_KEY_OPTION, NULL, NULL },
  { "priority", "choice", NH_KEY_OPTION, "0,1,2,3,4,5,6,7,8,9,10", NULL },
  { NULL, NULL, 0, NULL, NULL },
};

/* A server of one's own: no published limit. */
static const nh_platform_desc gotify_desc = {
  .name = "gotify",
  .keys = gotify_keys,
  .value = NH_VALUE_URL,
  .rate = { 0 },
  .transient = NH_TRANSIENT_HTTP,
};

const nh_platform nh_platform_gotify = {
  .name = "gotify",
  .desc = &gotify_desc,
  .build = gotify_build,
  .render = NULL,
  .limit = NULL,
  .classify = gotify_classify,
};
