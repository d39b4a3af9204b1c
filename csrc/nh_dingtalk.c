/*
 * nh_dingtalk.c: the DingTalk custom robot. text, markdown (the title, and
 * "@mobile" added to the text for each mention, as DingTalk requires) and
 * actionCard (platform_data.dingtalk.actionCard, sent as it is). Mentions
 * come from the target's at_mobiles, at_user_ids and at_all options.
 * Signing: timestamp in milliseconds and
 * sign = urlencode(base64(HMAC-SHA256(key = secret, message = timestamp "\n" secret)))
 * added to the query once. HTTP 200 with `errcode` decides: 0 success,
 * 130101 ("send too fast") RATE_LIMITED, the rest PLATFORM_REJECTED.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nh_internal.h"

#define DINGTALK_MAX_TEXT 20000 /* bytes of text; DingTalk documents about 20 KB */
#define DINGTALK_TOO_FAST 130101

static cJSON *at_block(const nh_target *t) {
  cJSON *at = cJSON_CreateObject();
  cJSON *mobiles = nh_opt_item(t, "at_mobiles"), *ids = nh_opt_item(t, "at_user_ids");
  cJSON_AddItemToObject(at, "atMobiles",
                        mobiles ? cJSON_Duplicate(mobiles, 1) : cJSON_CreateArray());
  cJSON_AddItemToObject(at, "atUserIds", ids ? cJSON_Duplicate(ids, 1) : cJSON_CreateArray());
  cJSON_AddBoolToObject(at, "isAtAll", nh_opt_bool(t, "at_all", 0));
  return at;
}

/* The text as sent: for markdown, "@mobile" for each mention at the end. */
static char *dingtalk_render(const nh_message *m, const nh_target *t, int *in_chars) {
  *in_chars = 0;
  if (!nh_format_is(m, "markdown")) return nh_title_body(m, "\n");
  nh_buf b = { 0 };
  cJSON *mobile;
  if (m->title) {
    nh_buf_puts(&b, "### ");
    nh_buf_puts(&b, m->title);
    nh_buf_puts(&b, "\n\n");
  }
  nh_buf_markdown(&b, m->body, NH_MD_DINGTALK);
  cJSON_ArrayForEach(mobile, nh_opt_item(t, "at_mobiles")) {
    if (!cJSON_IsString(mobile)) continue;
    nh_buf_puts(&b, " @");
    nh_buf_puts(&b, mobile->valuestring);
  }
  return nh_buf_take(&b);
}

static size_t dingtalk_limit(const nh_message *m, const nh_target *t) {
  (void)m;
  (void)t;
  return DINGTALK_MAX_TEXT;
}

static cJSON *message_json(const nh_message *m, const nh_target *t) {
  cJSON *root = cJSON_CreateObject(), *card = nh_platform_data(m, "dingtalk", "actionCard");
  int unused;
  if (card) {
    cJSON_AddStringToObject(root, "msgtype", "actionCard");
    cJSON_AddItemToObject(root, "actionCard", cJSON_Duplicate(card, 1));
    return root;
  }
  char *text = dingtalk_render(m, t, &unused);
  cJSON *inner = cJSON_CreateObject();
  if (nh_format_is(m, "markdown")) {
    cJSON_AddStringToObject(root, "msgtype", "markdown");
    cJSON_AddStringToObject(inner, "title", m->title ? m->title : "notification");
    cJSON_AddStringToObject(inner, "text", text ? text : "");
    cJSON_AddItemToObject(root, "markdown", inner);
  } else {
    cJSON_AddStringToObject(root, "msgtype", "text");
    cJSON_AddStringToObject(inner, "content", text ? text : "");
    cJSON_AddItemToObject(root, "text", inner);
  }
  free(text);
  cJSON_AddItemToObject(root, "at", at_block(t));
  return root;
}

/* The robot URL with timestamp and sign appended (once, encoded once). */
static char *signed_url(const nh_target *t) {
  char ts[32], sign[64];
  snprintf(ts, sizeof ts, "%lld", (long long)(nh_wall_time() * 1000.0));
  char *text = nh_sprintf("%s\n%s", ts, t->secret);
  int rc = text ? nh_hmac_sha256_base64(t->secret, strlen(t->secret), text, strlen(text), sign,
                                        sizeof sign)
                : -1;
  free(text);
  if (rc) return NULL;
  char *encoded = nh_url_encode(sign);
  char *url = encoded ? nh_sprintf("%s%stimestamp=%s&sign=%s", t->url,
                                   strchr(t->url, '?') ? "&" : "?", ts, encoded)
                      : NULL;
  free(encoded);
  return url;
}

static nh_code dingtalk_build(const nh_message *m, const nh_target *t, nh_request *req, char *err,
                              size_t errlen) {
  char *url = t->secret ? signed_url(t) : nh_strdup(t->url);
  return nh_request_json(req, t, url, message_json(m, t), err, errlen);
}

/* Shared with WeCom, whose answers have the same shape. */
void nh_classify_errcode(const char *name, long too_fast, const nh_answer *a, nh_result *r) {
  cJSON *root = cJSON_ParseWithLength(a->body, a->body_len);
  cJSON *code = cJSON_GetObjectItemCaseSensitive(root, "errcode");
  cJSON *msg = cJSON_GetObjectItemCaseSensitive(root, "errmsg");
  const char *text = cJSON_IsString(msg) ? msg->valuestring : "";
  long value;
  int known = nh_json_code(code, &value);
  if (known) {
    r->has_platform_code = 1;
    r->platform_code = value;
  }
  if (a->http_status < 200 || a->http_status >= 300) {
    nh_classify_http(a, r);
    nh_result_set(r, r->code, "%s: HTTP %ld", name, a->http_status);
  } else if (!known) {
    nh_result_set(r, NH_PLATFORM_REJECTED, "%s: the answer carries no errcode", name);
  } else if (r->platform_code == 0) {
    nh_result_set(r, NH_OK, NULL);
  } else {
    /* WeCom's messages name the caller's IP ("from ip: ..."): keep only
     * what comes before it. */
    const char *ip = strstr(text, "from ip");
    int keep = ip ? (int)(ip - text) : 200;
    if (ip) { /* and the receipt's copy too */
      const char *at = strstr(a->body, "from ip");
      r->response = at ? nh_sprintf("%.*sfrom ip: ***", (int)(at - a->body), a->body) : NULL;
    }
    nh_result_set(r, r->platform_code == too_fast ? NH_RATE_LIMITED : NH_PLATFORM_REJECTED,
                  "%s: errcode %ld: %.*s", name, r->platform_code, keep > 200 ? 200 : keep, text);
  }
  cJSON_Delete(root);
}

static void dingtalk_classify(const nh_target *t, const nh_answer *a, nh_result *r) {
  (void)t;
  nh_classify_errcode("dingtalk", DINGTALK_TOO_FAST, a, r);
}

/* The config section (config.lua checks each key by its kind). */
static const nh_platform_key dingtalk_keys[] = {
  { "webhook_url", "http_url", NH_KEY_REQUIRED | NH_KEY_VALUE, NULL, NULL },
  { "secret", "string", NH_KEY_SECRET, NULL, NULL },
  { "at_mobiles", "strings", NH_KEY_OPTION, NULL, NULL },
  { "at_user_ids", "strings", NH_KEY_OPTION, NULL, NULL },
  { "at_all", "boolean", NH_KEY_OPTION, NULL, NULL },
  { "overflow", "choice", 0, "truncate,split,error", NULL },
  { NULL, NULL, 0, NULL, NULL },
};

/* Retried: no answer, a timeout, HTTP 429 or the platform's "too fast", 408, 5xx. */
static const nh_platform_desc dingtalk_desc = {
  .name = "dingtalk",
  .keys = dingtalk_keys,
  .value = NH_VALUE_URL,
  .rate = { .per_minute = 20 },
  .transient = NH_TRANSIENT_HTTP,
};

const nh_platform nh_platform_dingtalk = {
  .name = "dingtalk",
  .desc = &dingtalk_desc,
  .build = dingtalk_build,
  .render = dingtalk_render,
  .limit = dingtalk_limit,
  .classify = dingtalk_classify,
};
