/*
 * nh_rocketchat.c: Rocket.Chat incoming webhooks (POST
 * <server>/hooks/<id>/<token>). JSON {text, alias, emoji, avatar,
 * channel}: the title in bold (*title*), then the body; markdown in
 * Rocket.Chat's markup (*bold*, _italic_, `code`, [t](url)), html as plain
 * text. A success, warning or failure message goes as one attachment
 * {title, text, color} instead of text. Answers: {"success":true}, or
 * {"success":false,"error":"..."} (also under HTTP 200). Rocket.Chat keeps
 * at most 5000 characters (Message_MaxAllowedSize): the limit.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nh_internal.h"

#define ROCKETCHAT_MAX_TEXT 5000

/* message.type as an attachment's colour; info: plain text. */
static const char *const type_colour[] = { NULL, "#36a64f", "#daa038", "#a30200" };

static const char *colour(const nh_message *m) { return type_colour[nh_type_index(m)]; }

static char *rocketchat_render(const nh_message *m, const nh_target *t, int *in_chars) {
  (void)t;
  *in_chars = 1;
  nh_buf b = { 0 };
  if (m->title && !colour(m)) { /* an attachment has a title of its own */
    nh_buf_puts(&b, "*");
    nh_buf_puts(&b, m->title);
    nh_buf_puts(&b, m->body && *m->body ? "*\n" : "*");
  }
  if (nh_format_is(m, "markdown")) {
    nh_buf_markdown(&b, m->body, NH_MD_ROCKETCHAT);
  } else {
    char *text = nh_body_text(m);
    if (text) nh_buf_puts(&b, text);
    else b.failed = 1;
    free(text);
  }
  return nh_buf_take(&b);
}

static size_t rocketchat_limit(const nh_message *m, const nh_target *t) {
  (void)m;
  (void)t;
  return ROCKETCHAT_MAX_TEXT;
}

static nh_code rocketchat_build(const nh_message *m, const nh_target *t, nh_request *req, char *err,
                                size_t errlen) {
  int unused;
  char *text = rocketchat_render(m, t, &unused);
  cJSON *root = cJSON_CreateObject();
  if (colour(m)) {
    cJSON *att = cJSON_CreateObject();
    if (m->title) cJSON_AddStringToObject(att, "title", m->title);
    cJSON_AddStringToObject(att, "text", text ? text : "");
    cJSON_AddStringToObject(att, "color", colour(m));
    cJSON_AddItemToArray(cJSON_AddArrayToObject(root, "attachments"), att);
  } else {
    cJSON_AddStringToObject(root, "text", text ? text : "");
  }
  free(text);
  const char *keys[] = { "alias", "emoji", "avatar", "channel" };
  for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
    if (nh_opt_string(t, keys[i]))
      cJSON_AddStringToObject(root, keys[i], nh_opt_string(t, keys[i]));
  return nh_request_json(req, t, nh_strdup(t->url), root, err, errlen);
}

static void rocketchat_classify(const nh_target *t, const nh_answer *a, nh_result *r) {
  (void)t;
  cJSON *root = cJSON_ParseWithLength(a->body, a->body_len);
  cJSON *ok = cJSON_GetObjectItemCaseSensitive(root, "success");
  cJSON *error = cJSON_GetObjectItemCaseSensitive(root, "error");
  if (a->http_status >= 200 && a->http_status < 300 && cJSON_IsTrue(ok)) {
    nh_result_set(r, NH_OK, NULL);
  } else {
    nh_classify_http(a, r);
    if (r->code == NH_OK) r->code = NH_PLATFORM_REJECTED; /* success false under 200 */
    nh_result_set(r, r->code, "rocketchat: HTTP %ld: %.200s", a->http_status,
                  cJSON_IsString(error) ? error->valuestring : "no success in the answer");
  }
  cJSON_Delete(root);
}

/* The config section (config.lua checks each key by its kind). */
static const nh_platform_key rocketchat_keys[] = {
  { "webhook_url", "http_url", NH_KEY_REQUIRED | NH_KEY_VALUE, NULL, NULL },
  { "alias", "text", NH_KEY_OPTION, NULL, NULL },
  { "emoji", "text", NH_KEY_OPTION, NULL, NULL },
  { "avatar", "text", NH_KEY_OPTION, NULL, NULL },
  { "channel", "text", NH_KEY_OPTION, NULL, NULL },
  { "overflow", "choice", 0, "truncate,split,error", NULL },
  { NULL, NULL, 0, NULL, NULL },
};

/* Rocket.Chat's API rate limiter (on by default, hooks included): 10 calls
 * per endpoint a minute; past it a 429 {"success":false,"error":...}. */
static const nh_platform_desc rocketchat_desc = {
  .name = "rocketchat",
  .keys = rocketchat_keys,
  .value = NH_VALUE_URL,
  .rate = { .per_minute = 10 },
  .transient = NH_TRANSIENT_HTTP,
};

const nh_platform nh_platform_rocketchat = {
  .name = "rocketchat",
  .desc = &rocketchat_desc,
  .build = rocketchat_build,
  .render = rocketchat_render,
  .limit = rocketchat_limit,
  .classify = rocketchat_classify,
};
