/*
 * nh_mattermost.c: Mattermost incoming webhooks (POST <server>/hooks/<key>).
 * JSON {text, username, icon_url, icon_emoji, channel}: the title in bold,
 * then the body; markdown as written (Mattermost's own), html as plain
 * text. A success, warning or failure message goes as one attachment with
 * the type's colour (title, text, fallback) instead of text. Success is
 * 200 with the body "ok"; errors are 4xx {"id","message",...}. A post
 * holds at most 16383 characters: the limit.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nh_internal.h"

#define MATTERMOST_MAX_TEXT 16383

/* message.type as an attachment's colour; info: plain text. */
static const char *const type_colour[] = { NULL, "#36a64f", "#daa038", "#a30200" };

static const char *colour(const nh_message *m) { return type_colour[nh_type_index(m)]; }

static char *mattermost_render(const nh_message *m, const nh_target *t, int *in_chars) {
  (void)t;
  *in_chars = 1;
  char *body = nh_body_text(m);
  if (!body || !m->title || colour(m)) return body; /* an attachment has a title of its own */
  char *text = nh_sprintf("**%s**%s%s", m->title, *body ? "\n" : "", body);
  free(body);
  return text;
}

static size_t mattermost_limit(const nh_message *m, const nh_target *t) {
  (void)m;
  (void)t;
  return MATTERMOST_MAX_TEXT;
}

static void add_attachment(cJSON *root, const nh_message *m, const char *text) {
  cJSON *att = cJSON_CreateObject();
  cJSON_AddStringToObject(att, "fallback", m->title && *m->title ? m->title : text);
  cJSON_AddStringToObject(att, "color", colour(m));
  if (m->title) cJSON_AddStringToObject(att, "title", m->title);
  cJSON_AddStringToObject(att, "text", text);
  cJSON_AddItemToArray(cJSON_AddArrayToObject(root, "attachments"), att);
}

static nh_code mattermost_build(const nh_message *m, const nh_target *t, nh_request *req, char *err,
                                size_t errlen) {
  int unused;
  char *text = mattermost_render(m, t, &unused);
  cJSON *root = cJSON_CreateObject();
  if (colour(m)) add_attachment(root, m, text ? text : "");
  else cJSON_AddStringToObject(root, "text", text ? text : "");
  free(text);
  const char *keys[] = { "username", "icon_url", "icon_emoji", "channel" };
  for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
    if (nh_opt_string(t, keys[i]))
      cJSON_AddStringToObject(root, keys[i], nh_opt_string(t, keys[i]));
  return nh_request_json(req, t, nh_strdup(t->url), root, err, errlen);
}

static void mattermost_classify(const nh_target *t, const nh_answer *a, nh_result *r) {
  (void)t;
  if (a->http_status == 200 && a->body_len == 2 && memcmp(a->body, "ok", 2) == 0) {
    nh_result_set(r, NH_OK, NULL);
    return;
  }
  cJSON *root = cJSON_ParseWithLength(a->body, a->body_len);
  cJSON *msg = cJSON_GetObjectItemCaseSensitive(root, "message");
  cJSON *id = cJSON_GetObjectItemCaseSensitive(root, "id");
  nh_classify_http(a, r);
  if (r->code == NH_OK) r->code = NH_PLATFORM_REJECTED; /* a 200 other than "ok" */
  nh_result_set(r, r->code, "mattermost: HTTP %ld: %.200s%s%.100s%s", a->http_status,
                cJSON_IsString(msg) ? msg->valuestring : "(no message)",
                cJSON_IsString(id) ? " (" : "", cJSON_IsString(id) ? id->valuestring : "",
                cJSON_IsString(id) ? ")" : "");
  cJSON_Delete(root);
}

/* The config section (config.lua checks each key by its kind). */
static const nh_platform_key mattermost_keys[] = {
  { "webhook_url", "http_url", NH_KEY_REQUIRED | NH_KEY_VALUE, NULL, NULL },
  { "username", "text", NH_KEY_OPTION, NULL, NULL },
  { "icon_url", "text", NH_KEY_OPTION, NULL, NULL },
  { "icon_emoji", "text", NH_KEY_OPTION, NULL, NULL },
  { "channel", "text", NH_KEY_OPTION, NULL, NULL },
  { "overflow", "choice", 0, "truncate,split,error", NULL },
  { NULL, NULL, 0, NULL, NULL },
};

/* Mattermost's own rate limiting (RateLimitSettings) when a server turns
 * it on: 10 per second, bursts of 100. */
static const nh_platform_desc mattermost_desc = {
  .name = "mattermost",
  .keys = mattermost_keys,
  .value = NH_VALUE_URL,
  .rate = { .per_second = 10, .burst = 100 },
  .transient = NH_TRANSIENT_HTTP,
};

const nh_platform nh_platform_mattermost = {
  .name = "mattermost",
  .desc = &mattermost_desc,
  .build = mattermost_build,
  .render = mattermost_render,
  .limit = mattermost_limit,
  .classify = mattermost_classify,
};
