/*
 * nh_wecom.c: the WeCom (WeChat Work) group bot. text (at most 2048 bytes,
 * with mentioned_list and mentioned_mobile_list from the target's options)
 * and markdown (at most 4096 bytes, no mention lists). The key in the URL is
 * the secret. `errcode` decides: 0 success, 45009 RATE_LIMITED; error
 * messages lose the "from ip: ..." part, which names the caller's address.
 */
#include <stdio.h>
#include <stdlib.h>

#include "nh_internal.h"

#define WECOM_MAX_TEXT 2048
#define WECOM_MAX_MARKDOWN 4096
#define WECOM_RATE_LIMITED 45009

static char *wecom_render(const nh_message *m, const nh_target *t, int *in_chars) {
  (void)t;
  *in_chars = 0;
  if (!nh_format_is(m, "markdown")) return nh_title_body(m, "\n");
  nh_buf b = { 0 };
  if (m->title) nh_buf_puts(&b, "**"), nh_buf_puts(&b, m->title), nh_buf_puts(&b, "**\n");
  nh_buf_markdown(&b, m->body, NH_MD_WECOM);
  return nh_buf_take(&b);
}

static size_t wecom_limit(const nh_message *m, const nh_target *t) {
  (void)t;
  return nh_format_is(m, "markdown") ? WECOM_MAX_MARKDOWN : WECOM_MAX_TEXT;
}

static nh_code wecom_build(const nh_message *m, const nh_target *t, nh_request *req, char *err,
                           size_t errlen) {
  int unused;
  char *text = wecom_render(m, t, &unused);
  int markdown = nh_format_is(m, "markdown");
  cJSON *root = cJSON_CreateObject(), *inner = cJSON_CreateObject();
  cJSON_AddStringToObject(root, "msgtype", markdown ? "markdown" : "text");
  cJSON_AddStringToObject(inner, "content", text ? text : "");
  free(text);
  if (!markdown) {
    const char *lists[] = { "mentioned_list", "mentioned_mobile_list" };
    for (int i = 0; i < 2; i++)
      if (nh_opt_item(t, lists[i]))
        cJSON_AddItemToObject(inner, lists[i], cJSON_Duplicate(nh_opt_item(t, lists[i]), 1));
  }
  cJSON_AddItemToObject(root, markdown ? "markdown" : "text", inner);
  return nh_request_json(req, t, nh_strdup(t->url), root, err, errlen);
}

static void wecom_classify(const nh_target *t, const nh_answer *a, nh_result *r) {
  (void)t;
  nh_classify_errcode("wecom", WECOM_RATE_LIMITED, a, r);
}

/* The config section (config.lua checks each key by its kind). */
static const nh_platform_key wecom_keys[] = {
  { "webhook_url", "http_url", NH_KEY_REQUIRED | NH_KEY_VALUE, NULL, NULL },
  { "mentioned_list", "strings", NH_KEY_OPTION, NULL, NULL },
  { "mentioned_mobile_list", "strings", NH_KEY_OPTION, NULL, NULL },
  { "overflow", "choice", 0, "truncate,split,error", NULL },
  { NULL, NULL, 0, NULL, NULL },
};

/* Retried: no answer, a timeout, HTTP 429 or the platform's "too fast", 408, 5xx. */
static const nh_platform_desc wecom_desc = {
  .name = "wecom",
  .keys = wecom_keys,
  .value = NH_VALUE_URL,
  .rate = { .per_minute = 20 },
  .transient = NH_TRANSIENT_HTTP,
};

const nh_platform nh_platform_wecom = {
  .name = "wecom",
  .desc = &wecom_desc,
  .build = wecom_build,
  .render = wecom_render,
  .limit = wecom_limit,
  .classify = wecom_classify,
};
