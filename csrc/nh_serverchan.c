/*
 * nh_serverchan.c: ServerChan (Server酱 Turbo): POST <url>/<SENDKEY>.send
 * with JSON {title, desp, channel, noip}; a Server酱³ key (sctp<uid>t...)
 * goes to https://<uid>.push.ft07.com/send/<SENDKEY>.send (<url>/send/...
 * when url is not the default). The SendKey sits in the path, so only the
 * base URL is shown. title holds at most 32 characters (the title, or the
 * body's first line: ServerChan needs one), desp (markdown, shown in the
 * app) the body, at most 32 KB. Answers: {"code":0,"data":{"pushid",...}}
 * is success; any other code is a failure, also under HTTP 200.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nh_internal.h"

#define SERVERCHAN_MAX_TITLE 32
#define SERVERCHAN_MAX_DESP 32768
#define SERVERCHAN_DEFAULT_URL "https://sctapi.ftqq.com"

static char *serverchan_render(const nh_message *m, const nh_target *t, int *in_chars) {
  (void)t;
  *in_chars = 0;
  return nh_body_text(m); /* markdown as written: the app renders it */
}

static size_t serverchan_limit(const nh_message *m, const nh_target *t) {
  (void)m;
  (void)t;
  return SERVERCHAN_MAX_DESP;
}

/* The send URL of a key: Server酱³ keys (sctp<uid>t...) name their host. */
static char *serverchan_url(const nh_target *t, const char *key) {
  size_t len = strlen(t->url);
  while (len > 0 && t->url[len - 1] == '/') len--;
  size_t digits = strncmp(key, "sctp", 4) == 0 ? strspn(key + 4, "0123456789") : 0;
  if (!digits || key[4 + digits] != 't') return nh_sprintf("%.*s/%s.send", (int)len, t->url, key);
  if (strcmp(t->url, SERVERCHAN_DEFAULT_URL) == 0)
    return nh_sprintf("https://%.*s.push.ft07.com/send/%s.send", (int)digits, key + 4, key);
  return nh_sprintf("%.*s/send/%s.send", (int)len, t->url, key);
}

static nh_code serverchan_build(const nh_message *m, const nh_target *t, nh_request *req, char *err,
                                size_t errlen) {
  int unused;
  const char *key = nh_opt_string(t, "sendkey");
  char *desp = serverchan_render(m, t, &unused);
  char *title = nh_text_line(m->title ? m->title : desp, SERVERCHAN_MAX_TITLE);
  cJSON *root = cJSON_CreateObject();
  cJSON_AddStringToObject(root, "title", title ? title : "");
  if (desp && *desp) cJSON_AddStringToObject(root, "desp", desp);
  free(title);
  free(desp);
  if (nh_opt_string(t, "channel"))
    cJSON_AddStringToObject(root, "channel", nh_opt_string(t, "channel"));
  if (nh_opt_bool(t, "noip", 0)) cJSON_AddNumberToObject(root, "noip", 1);
  char *path_key = nh_url_encode(key ? key : ""); /* a key is letters and digits; be sure */
  char *url = path_key ? serverchan_url(t, path_key) : NULL;
  free(path_key);
  return nh_request_json(req, t, url, root, err, errlen);
}

static void serverchan_classify(const nh_target *t, const nh_answer *a, nh_result *r) {
  (void)t;
  cJSON *root = cJSON_ParseWithLength(a->body, a->body_len);
  cJSON *code = cJSON_GetObjectItemCaseSensitive(root, "code");
  cJSON *msg = cJSON_GetObjectItemCaseSensitive(root, "message");
  long value = 0;
  int has = nh_json_code(code, &value);
  nh_classify_http(a, r);
  if (has) {
    r->has_platform_code = 1;
    r->platform_code = value;
  }
  if (r->success && has && value == 0) {
    cJSON_Delete(root);
    return;
  }
  if (r->success) r->code = NH_PLATFORM_REJECTED;
  nh_result_set(r, r->code, "serverchan: %s%.200s", has ? "" : "HTTP error, ",
                cJSON_IsString(msg) && *msg->valuestring ? msg->valuestring : "no message");
  cJSON_Delete(root);
}

/* The config section (config.lua checks each key by its kind). */
static const nh_platform_key serverchan_keys[] = {
  { "sendkey", "string", NH_KEY_REQUIRED | NH_KEY_SECRET | NH_KEY_OPTION, NULL, NULL },
  { "url", "http_url", NH_KEY_VALUE, NULL, SERVERCHAN_DEFAULT_URL },
  { "channel", "text", NH_KEY_OPTION, NULL, NULL },
  { "noip", "boolean", NH_KEY_OPTION, NULL, NULL },
  { "overflow", "choice", 0, "truncate,split,error", NULL },
  { NULL, NULL, 0, NULL, NULL },
};

/* Retried: no answer, a timeout, HTTP 429, 408, 5xx. The quota is per day
 * (5 messages on the free plan), which no per-second/minute/hour rule
 * holds: none by default. */
static const nh_platform_desc serverchan_desc = {
  .name = "serverchan",
  .keys = serverchan_keys,
  .value = NH_VALUE_URL,
  .rate = { 0 },
  .transient = NH_TRANSIENT_HTTP,
};

const nh_platform nh_platform_serverchan = {
  .name = "serverchan",
  .desc = &serverchan_desc,
  .build = serverchan_build,
  .render = serverchan_render,
  .limit = serverchan_limit,
  .classify = serverchan_classify,
};
