/*
 * nh_bark.c: Bark (iOS push through APNs), its server's JSON API: POST
 * <server>/push {device_key, title, body, level, group, sound, icon, url,
 * id}. The device key is the secret. level from message.type and priority
 * (passive, active, timeSensitive, critical); id is the message id (a part's
 * number added when split), so a notification sent again replaces the one
 * shown. APNs takes 4 KB a notification: title and body at most 3,500
 * bytes. Answers: {"code":200,"message":"success","timestamp"}; any other
 * code is a failure, also under HTTP 200 (400: unknown device key; 500: APNs
 * refused the push).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nh_internal.h"

#define BARK_MAX_TEXT 3500

/* The target's level (an Apprise URL's ?level=), else from message.type and
 * priority. */
static const char *bark_level(const nh_message *m, const nh_target *t) {
  if (nh_opt_string(t, "level")) return nh_opt_string(t, "level");
  if (m->priority == NH_PRIORITY_URGENT) return "critical";
  if (m->type == NH_TYPE_WARNING || m->type == NH_TYPE_FAILURE) return "timeSensitive";
  return m->priority == NH_PRIORITY_LOW ? "passive" : "active";
}

/* What the limit counts: the title and the body as sent. */
static char *bark_render(const nh_message *m, const nh_target *t, int *in_chars) {
  (void)t;
  *in_chars = 0;
  return nh_title_body(m, "\n");
}

static size_t bark_limit(const nh_message *m, const nh_target *t) {
  (void)m;
  (void)t;
  return BARK_MAX_TEXT;
}

static nh_code bark_build(const nh_message *m, const nh_target *t, nh_request *req, char *err,
                          size_t errlen) {
  cJSON *root = cJSON_CreateObject();
  const char *key = nh_opt_string(t, "device_key");
  cJSON_AddStringToObject(root, "device_key", key ? key : "");
  if (m->title) cJSON_AddStringToObject(root, "title", m->title);
  char *body = nh_body_text(m); /* html as plain text, markdown as written */
  cJSON_AddStringToObject(root, "body", body ? body : "");
  free(body);
  cJSON_AddStringToObject(root, "level", bark_level(m, t));
  const char *opts[] = { "group", "sound", "icon", "click_url" };
  const char *fields[] = { "group", "sound", "icon", "url" };
  for (int i = 0; i < 4; i++)
    if (nh_opt_string(t, opts[i]))
      cJSON_AddStringToObject(root, fields[i], nh_opt_string(t, opts[i]));
  char *id =
    t->n_parts > 1 ? nh_sprintf("%s-%d", m->id, nh_part_index(m, t) + 1) : nh_strdup(m->id);
  if (id) cJSON_AddStringToObject(root, "id", id);
  free(id);
  nh_json_merge(root, cJSON_GetObjectItemCaseSensitive(m->platform_data, "bark"));
  return nh_request_json(req, t, nh_strdup(t->url), root, err, errlen);
}

static void bark_classify(const nh_target *t, const nh_answer *a, nh_result *r) {
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
  if (r->success && has && value == 200) {
    cJSON_Delete(root);
    return;
  }
  if (r->success) r->code = NH_PLATFORM_REJECTED; /* HTTP 200 with another code */
  nh_result_set(r, r->code, "bark: %s%.200s", has ? "" : "HTTP error, ",
                cJSON_IsString(msg) ? msg->valuestring : "no message");
  cJSON_Delete(root);
}

/* The config section (config.lua checks each key by its kind). */
static const nh_platform_key bark_keys[] = {
  { "device_key", "string", NH_KEY_REQUIRED | NH_KEY_SECRET | NH_KEY_OPTION, NULL, NULL },
  { "url", "http_url", NH_KEY_VALUE, NULL, "https://api.day.app/push" },
  { "group", "text", NH_KEY_OPTION, NULL, NULL },
  { "sound", "text", NH_KEY_OPTION, NULL, NULL },
  { "icon", "text", NH_KEY_OPTION, NULL, NULL },
  { "click_url", "text", NH_KEY_OPTION, NULL, NULL },
  { "level", "choice", NH_KEY_OPTION, "active,timeSensitive,passive,critical", NULL },
  { "overflow", "choice", 0, "truncate,split,error", NULL },
  { NULL, NULL, 0, NULL, NULL },
};

/* Retried: no answer, a timeout, HTTP 429, 408, 5xx (APNs refusing a push
 * is a 500). Bark publishes no rate limit. */
static const nh_platform_desc bark_desc = {
  .name = "bark",
  .keys = bark_keys,
  .value = NH_VALUE_URL,
  .rate = { 0 },
  .transient = NH_TRANSIENT_HTTP,
};

const nh_platform nh_platform_bark = {
  .name = "bark",
  .desc = &bark_desc,
  .build = bark_build,
  .render = bark_render,
  .limit = bark_limit,
  .classify = bark_classify,
};
