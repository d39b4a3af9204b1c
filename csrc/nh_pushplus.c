/*
 * nh_pushplus.c: PushPlus (pushplus.plus): POST /send with JSON {token,
 * title, content, template, topic, channel}. template follows the message's
 * format: markdown, html, or txt for text. The token is the secret.
 * Answers are HTTP 200 with {"code","msg","data"}: 200 is success (data is
 * the message's serial number); 900 (the account is restricted for
 * sending too often) is RATE_LIMITED and 500 ("system error, try again
 * later") transient, both retried; 903 (bad token), 905, 999 (validation)
 * and the rest fail at once.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nh_internal.h"

#define PUSHPLUS_TOO_FREQUENT 900
#define PUSHPLUS_SYSTEM_ERROR 500

static const char *pushplus_template(const nh_message *m) {
  if (nh_format_is(m, "markdown")) return "markdown";
  if (nh_format_is(m, "html")) return "html";
  return "txt";
}

static nh_code pushplus_build(const nh_message *m, const nh_target *t, nh_request *req, char *err,
                              size_t errlen) {
  cJSON *root = cJSON_CreateObject();
  const char *token = nh_opt_string(t, "token");
  cJSON_AddStringToObject(root, "token", token ? token : "");
  if (m->title) cJSON_AddStringToObject(root, "title", m->title);
  cJSON_AddStringToObject(root, "content",
                          m->body && *m->body ? m->body : (m->title ? m->title : ""));
  cJSON_AddStringToObject(root, "template", pushplus_template(m));
  const char *opts[] = { "topic", "channel" };
  for (int i = 0; i < 2; i++)
    if (nh_opt_string(t, opts[i]))
      cJSON_AddStringToObject(root, opts[i], nh_opt_string(t, opts[i]));
  nh_json_merge(root, cJSON_GetObjectItemCaseSensitive(m->platform_data, "pushplus"));
  return nh_request_json(req, t, nh_strdup(t->url), root, err, errlen);
}

static void pushplus_classify(const nh_target *t, const nh_answer *a, nh_result *r) {
  (void)t;
  cJSON *root = cJSON_ParseWithLength(a->body, a->body_len);
  cJSON *code = cJSON_GetObjectItemCaseSensitive(root, "code");
  cJSON *msg = cJSON_GetObjectItemCaseSensitive(root, "msg");
  long value = 0;
  int has = nh_json_code(code, &value);
  nh_classify_http(a, r);
  if (r->success && has && value == 200) {
    r->has_platform_code = 1;
    r->platform_code = value;
    cJSON_Delete(root);
    return;
  }
  nh_code rc = r->code;
  if (rc == NH_OK)
    rc = has && value == PUSHPLUS_TOO_FREQUENT ? NH_RATE_LIMITED : NH_PLATFORM_REJECTED;
  nh_result_set(r, rc, "pushplus: %s%.200s", has ? "" : "HTTP error, ",
                cJSON_IsString(msg) ? msg->valuestring : "no message");
  if (has) {
    r->has_platform_code = 1;
    r->platform_code = value;
  }
  /* "system error, try again later": transient, as an SMTP 4xx is */
  if (rc == NH_PLATFORM_REJECTED && has && value == PUSHPLUS_SYSTEM_ERROR) r->transient = 1;
  cJSON_Delete(root);
}

/* The config section (config.lua checks each key by its kind). */
static const nh_platform_key pushplus_keys[] = {
  { "token", "string", NH_KEY_REQUIRED | NH_KEY_SECRET | NH_KEY_OPTION, NULL, NULL },
  { "url", "http_url", NH_KEY_VALUE, NULL, "https://www.pushplus.plus/send" },
  { "topic", "text", NH_KEY_OPTION, NULL, NULL },
  { "channel", "text", NH_KEY_OPTION, NULL, NULL },
  { NULL, NULL, 0, NULL, NULL },
};

/* Retried: no answer, a timeout, HTTP 429 and code 900, 408, 5xx, and code
 * 500 ("try again later"). The quota is 200 requests a day (past it the
 * account is blocked for days), which no per-second/minute/hour rule holds:
 * none by default. */
static const nh_platform_desc pushplus_desc = {
  .name = "pushplus",
  .keys = pushplus_keys,
  .value = NH_VALUE_URL,
  .rate = { 0 },
  .transient = NH_TRANSIENT_HTTP | NH_FAIL_BIT(REPLY_4XX),
};

const nh_platform nh_platform_pushplus = {
  .name = "pushplus",
  .desc = &pushplus_desc,
  .build = pushplus_build,
  .render = NULL,
  .limit = NULL,
  .classify = pushplus_classify,
};
