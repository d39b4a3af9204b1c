/*
 * nh_telegram.c: the Telegram Bot API's sendMessage. The bot token sits in
 * the URL path, so the URL is a secret: receipts show the target's label.
 * parse_mode (a target option): "HTML" (the default: the title in <b>, text
 * escaped, markdown rendered as Telegram's tags by nh_markdown.c, an html
 * body with Telegram's tags kept and the others turned into text),
 * "MarkdownV2" (markdown rendered as MarkdownV2, other text with every
 * reserved character escaped) or "none". Text is at most 4096 characters.
 * Answers: {"ok":true} or
 * {"ok":false,"error_code","description","parameters":{"retry_after"}}.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nh_internal.h"

#define TELEGRAM_MAX_TEXT 4096

enum { MODE_HTML, MODE_MARKDOWN_V2, MODE_NONE };

static int parse_mode(const nh_target *t) {
  const char *mode = nh_opt_string(t, "parse_mode");
  if (!mode || strcmp(mode, "HTML") == 0) return MODE_HTML;
  if (strcmp(mode, "MarkdownV2") == 0) return MODE_MARKDOWN_V2;
  return MODE_NONE;
}

static void escape_v2(nh_buf *b, const char *s) {
  for (; s && *s; s++) {
    if (strchr("_*[]()~`>#+-=|{}.!\\", *s)) nh_buf_add(b, "\\", 1);
    nh_buf_add(b, s, 1);
  }
}

static char *telegram_render(const nh_message *m, const nh_target *t, int *in_chars) {
  nh_buf b = { 0 };
  int mode = parse_mode(t), sep = m->title && m->body && *m->body;
  *in_chars = 1;
  if (mode == MODE_NONE) return nh_title_body(m, "\n");
  if (m->title) {
    nh_buf_puts(&b, mode == MODE_HTML ? "<b>" : "*");
    if (mode == MODE_HTML) nh_buf_escape_html(&b, m->title);
    else escape_v2(&b, m->title);
    nh_buf_puts(&b, mode == MODE_HTML ? "</b>" : "*");
  }
  if (sep) nh_buf_puts(&b, "\n");
  if (nh_format_is(m, "markdown")) {
    nh_buf_markdown(&b, m->body, mode == MODE_HTML ? NH_MD_TELEGRAM_HTML : NH_MD_TELEGRAM_V2);
  } else if (mode == MODE_HTML && nh_format_is(m, "html")) {
    nh_buf_html_telegram(&b, m->body); /* <p>, <h1>, <ul> ... Telegram refuses */
  } else {
    char *text = nh_body_text(m); /* html shown as text in MarkdownV2 */
    if (mode == MODE_HTML) nh_buf_escape_html(&b, text);
    else escape_v2(&b, text);
    free(text);
  }
  return nh_buf_take(&b);
}

static size_t telegram_limit(const nh_message *m, const nh_target *t) {
  (void)m;
  (void)t;
  return TELEGRAM_MAX_TEXT;
}

static nh_code telegram_build(const nh_message *m, const nh_target *t, nh_request *req, char *err,
                              size_t errlen) {
  int unused, mode = parse_mode(t);
  char *text = telegram_render(m, t, &unused);
  cJSON *root = cJSON_CreateObject(), *chat = nh_opt_item(t, "chat_id");
  cJSON_AddItemToObject(root, "chat_id", chat ? cJSON_Duplicate(chat, 0) : cJSON_CreateNull());
  cJSON_AddStringToObject(root, "text", text ? text : "");
  free(text);
  if (mode != MODE_NONE)
    cJSON_AddStringToObject(root, "parse_mode", mode == MODE_HTML ? "HTML" : "MarkdownV2");
  if (nh_opt_bool(t, "disable_notification", 0))
    cJSON_AddTrueToObject(root, "disable_notification");
  const char *topic = nh_opt_string(t, "topic");
  if (topic) { /* a forum topic: digits only, so that the id stays exact */
    if (!*topic || strspn(topic, "0123456789") != strlen(topic) || strlen(topic) > 15) {
      cJSON_Delete(root);
      snprintf(err, errlen, "telegram: topic: a message thread id (1 to 15 digits) expected");
      return NH_INVALID_MESSAGE;
    }
    cJSON_AddNumberToObject(root, "message_thread_id", strtod(topic, NULL));
  }
  return nh_request_json(req, t, nh_strdup(t->url), root, err, errlen);
}

static void telegram_classify(const nh_target *t, const nh_answer *a, nh_result *r) {
  (void)t;
  cJSON *root = cJSON_ParseWithLength(a->body, a->body_len);
  cJSON *ok = cJSON_GetObjectItemCaseSensitive(root, "ok");
  cJSON *code = cJSON_GetObjectItemCaseSensitive(root, "error_code");
  cJSON *desc = cJSON_GetObjectItemCaseSensitive(root, "description");
  cJSON *params = cJSON_GetObjectItemCaseSensitive(root, "parameters");
  cJSON *retry = cJSON_GetObjectItemCaseSensitive(params, "retry_after");
  if (cJSON_IsTrue(ok) && a->http_status >= 200 && a->http_status < 300) {
    nh_result_set(r, NH_OK, NULL);
  } else {
    nh_classify_http(a, r);
    if (r->code == NH_OK) r->code = NH_PLATFORM_REJECTED;
    if (nh_json_code(code, &r->platform_code)) r->has_platform_code = 1;
    if (cJSON_IsNumber(retry)) r->retry_after = retry->valuedouble;
    nh_result_set(r, r->code, "telegram: %s%.200s", cJSON_IsString(desc) ? "" : "HTTP error, ",
                  cJSON_IsString(desc) ? desc->valuestring : "no description");
  }
  cJSON_Delete(root);
}

/* The config section (config.lua checks each key by its kind). */
static const nh_platform_key telegram_keys[] = {
  { "token", "string", NH_KEY_REQUIRED | NH_KEY_SECRET, NULL, NULL },
  { "chat_id", "chat_id", NH_KEY_VALUE, NULL, NULL },
  { "api_url", "http_url", 0, NULL, "https://api.telegram.org" },
  { "parse_mode", "choice", NH_KEY_OPTION, "HTML,MarkdownV2,none", "HTML" },
  { "disable_notification", "boolean", NH_KEY_OPTION, NULL, NULL },
  { "topic", "text", NH_KEY_OPTION, NULL, NULL },
  { "overflow", "choice", 0, "truncate,split,error", NULL },
  { NULL, NULL, 0, NULL, NULL },
};

/* Retried: no answer, a timeout, HTTP 429 or the platform's "too fast", 408, 5xx. */
static const nh_platform_desc telegram_desc = {
  .name = "telegram",
  .keys = telegram_keys,
  .value = NH_VALUE_CHAT_ID,
  .rate = { .per_second = 1 },
  .transient = NH_TRANSIENT_HTTP,
};

const nh_platform nh_platform_telegram = {
  .name = "telegram",
  .desc = &telegram_desc,
  .build = telegram_build,
  .render = telegram_render,
  .limit = telegram_limit,
  .classify = telegram_classify,
};
