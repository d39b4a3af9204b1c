/*
 * nh_discord.c: Discord webhooks. `content` (at most 2000 characters: the
 * title in bold, then the body), `username` and `avatar_url` from the
 * target's options, `embeds` and `allowed_mentions` from
 * platform_data.discord. The option wait = true adds ?wait=true, and Discord
 * then answers 200 with the message instead of 204. A 429 carries
 * retry_after (seconds) in its JSON body.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nh_internal.h"

#define DISCORD_MAX_CONTENT 2000

static char *discord_render(const nh_message *m, const nh_target *t, int *in_chars) {
  (void)t;
  *in_chars = 1;
  char *body = nh_body_text(m); /* markdown is Discord's own: as it is */
  if (!body || !m->title) return body;
  char *text = nh_sprintf("**%s**%s%s", m->title, *body ? "\n" : "", body);
  free(body);
  return text;
}

static size_t discord_limit(const nh_message *m, const nh_target *t) {
  (void)m;
  (void)t;
  return DISCORD_MAX_CONTENT;
}

static nh_code discord_build(const nh_message *m, const nh_target *t, nh_request *req, char *err,
                             size_t errlen) {
  int unused;
  char *content = discord_render(m, t, &unused);
  cJSON *root = cJSON_CreateObject();
  cJSON_AddStringToObject(root, "content", content ? content : "");
  free(content);
  const char *opts[] = { "username", "avatar_url" };
  for (int i = 0; i < 2; i++)
    if (nh_opt_string(t, opts[i]))
      cJSON_AddStringToObject(root, opts[i], nh_opt_string(t, opts[i]));
  const char *data[] = { "embeds", "allowed_mentions" };
  for (int i = 0; i < 2; i++)
    if (nh_platform_data(m, "discord", data[i]))
      cJSON_AddItemToObject(root, data[i],
                            cJSON_Duplicate(nh_platform_data(m, "discord", data[i]), 1));
  int wait = nh_opt_bool(t, "wait", 0);
  char *url =
    wait ? nh_sprintf("%s%swait=true", t->url, strchr(t->url, '?') ? "&" : "?") : nh_strdup(t->url);
  return nh_request_json(req, t, url, root, err, errlen);
}

static void discord_classify(const nh_target *t, const nh_answer *a, nh_result *r) {
  (void)t;
  nh_classify_http(a, r);
  if (r->success) return;
  cJSON *root = cJSON_ParseWithLength(a->body, a->body_len);
  cJSON *msg = cJSON_GetObjectItemCaseSensitive(root, "message");
  cJSON *code = cJSON_GetObjectItemCaseSensitive(root, "code");
  cJSON *retry = cJSON_GetObjectItemCaseSensitive(root, "retry_after");
  if (cJSON_IsNumber(retry)) r->retry_after = retry->valuedouble;
  if (nh_json_code(code, &r->platform_code)) r->has_platform_code = 1;
  nh_result_set(r, r->code, "discord: HTTP %ld: %.200s", a->http_status,
                cJSON_IsString(msg) ? msg->valuestring : "(no message)");
  cJSON_Delete(root);
}

/* The config section (config.lua checks each key by its kind). */
static const nh_platform_key discord_keys[] = {
  { "webhook_url", "http_url", NH_KEY_REQUIRED | NH_KEY_VALUE, NULL, NULL },
  { "username", "text", NH_KEY_OPTION, NULL, NULL },
  { "avatar_url", "text", NH_KEY_OPTION, NULL, NULL },
  { "wait", "boolean", NH_KEY_OPTION, NULL, NULL },
  { "overflow", "choice", 0, "truncate,split,error", NULL },
  { NULL, NULL, 0, NULL, NULL },
};

/* Retried: no answer, a timeout, HTTP 429 or the platform's "too fast", 408, 5xx. */
static const nh_platform_desc discord_desc = {
  .name = "discord",
  .keys = discord_keys,
  .value = NH_VALUE_URL,
  .rate = { 0 },
  .transient = NH_TRANSIENT_HTTP,
};

const nh_platform nh_platform_discord = {
  .name = "discord",
  .desc = &discord_desc,
  .build = discord_build,
  .render = discord_render,
  .limit = discord_limit,
  .classify = discord_classify,
};
