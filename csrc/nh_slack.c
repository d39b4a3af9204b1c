/*
 * nh_slack.c: Slack incoming webhooks. The text is mrkdwn: the title in bold
 * on the first line, `&`, `<` and `>` escaped as Slack asks, markdown
 * rendered as mrkdwn (nh_markdown.c), html as plain text. platform_data.slack.blocks is sent as it
 * is (the text stays as the notification fallback). A message with a type
 * (message.type) and no blocks goes as one legacy attachment in the type's
 * colour (Apprise's colours), its text the same mrkdwn. Success is HTTP 200 with the body "ok";
 * errors are plain-text bodies (invalid_payload, no_text, channel_not_found, ...) that reach the
 * receipt.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nh_internal.h"

#define SLACK_MAX_TEXT 40000

static const char *const slack_with[] = { "&amp;", "&lt;", "&gt;" };

static char *slack_render(const nh_message *m, const nh_target *t, int *in_chars) {
  (void)t;
  nh_buf b = { 0 };
  *in_chars = 1;
  if (m->title) {
    nh_buf_puts(&b, "*");
    nh_buf_escape(&b, m->title, "&<>", slack_with);
    nh_buf_puts(&b, m->body && *m->body ? "*\n" : "*");
  }
  if (nh_format_is(m, "markdown")) {
    nh_buf_markdown(&b, m->body, NH_MD_SLACK);
  } else {
    char *text = nh_body_text(m);
    nh_buf_escape(&b, text, "&<>", slack_with);
    free(text);
  }
  return nh_buf_take(&b);
}

static size_t slack_limit(const nh_message *m, const nh_target *t) {
  (void)m;
  (void)t;
  return SLACK_MAX_TEXT;
}

static nh_code slack_build(const nh_message *m, const nh_target *t, nh_request *req, char *err,
                           size_t errlen) {
  int unused;
  char *text = slack_render(m, t, &unused);
  static const char *const colour[4] = { "#3AA3E3", "#3AA337", "#CACF29", "#A32037" };
  cJSON *root = cJSON_CreateObject(), *blocks = nh_platform_data(m, "slack", "blocks");
  if (!blocks && m->type != NH_TYPE_NONE) {
    cJSON *list = cJSON_CreateArray(), *att = cJSON_CreateObject(), *in = cJSON_CreateArray();
    cJSON_AddStringToObject(att, "color", nh_type_pick(m, colour));
    cJSON_AddStringToObject(att, "fallback", text ? text : "");
    cJSON_AddStringToObject(att, "text", text ? text : "");
    cJSON_AddItemToArray(in, cJSON_CreateString("text"));
    cJSON_AddItemToObject(att, "mrkdwn_in", in);
    cJSON_AddItemToArray(list, att);
    cJSON_AddItemToObject(root, "attachments", list);
  } else {
    cJSON_AddStringToObject(root, "text", text ? text : "");
  }
  free(text);
  if (blocks) cJSON_AddItemToObject(root, "blocks", cJSON_Duplicate(blocks, 1));
  cJSON_AddBoolToObject(root, "mrkdwn", 1);
  const char *keys[] = { "username", "icon_emoji", "icon_url", "channel" };
  for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
    if (nh_opt_string(t, keys[i]))
      cJSON_AddStringToObject(root, keys[i], nh_opt_string(t, keys[i]));
  return nh_request_json(req, t, nh_strdup(t->url), root, err, errlen);
}

static void slack_classify(const nh_target *t, const nh_answer *a, nh_result *r) {
  (void)t;
  if (a->http_status == 200 && a->body_len == 2 && memcmp(a->body, "ok", 2) == 0) {
    nh_result_set(r, NH_OK, NULL);
    return;
  }
  nh_classify_http(a, r);
  if (r->code == NH_OK) r->code = NH_PLATFORM_REJECTED, r->success = 0;
  nh_result_set(r, r->code, "slack: HTTP %ld: %.200s", a->http_status,
                a->body_len ? a->body : "(no body)");
}

/* The config section (config.lua checks each key by its kind). */
static const nh_platform_key slack_keys[] = {
  { "webhook_url", "http_url", NH_KEY_REQUIRED | NH_KEY_VALUE, NULL, NULL },
  { "username", "text", NH_KEY_OPTION, NULL, NULL },
  { "icon_emoji", "text", NH_KEY_OPTION, NULL, NULL },
  { "icon_url", "text", NH_KEY_OPTION, NULL, NULL },
  { "channel", "text", NH_KEY_OPTION, NULL, NULL },
  { "overflow", "choice", 0, "truncate,split,error", NULL },
  { NULL, NULL, 0, NULL, NULL },
};

/* Retried: no answer, a timeout, HTTP 429 or the platform's "too fast", 408, 5xx. */
static const nh_platform_desc slack_desc = {
  .name = "slack",
  .keys = slack_keys,
  .value = NH_VALUE_URL,
  .rate = { .per_second = 1, .burst = 3 },
  .transient = NH_TRANSIENT_HTTP,
};

const nh_platform nh_platform_slack = {
  .name = "slack",
  .desc = &slack_desc,
  .build = slack_build,
  .render = slack_render,
  .limit = slack_limit,
  .classify = slack_classify,
};
