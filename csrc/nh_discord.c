/*
 * nh_discord.c: Discord webhooks. `content` (at most 2000 characters: the
 * title in bold, then the body), `username` and `avatar_url` from the
 * target's options, `embeds` and `allowed_mentions` from
 * platform_data.discord. The option wait = true adds ?wait=true, and Discord
 * then answers 200 with the message instead of 204. A 429 carries
 * retry_after (seconds) in its JSON body. A message with a type
 * (message.type) and no embeds of its own goes as one embed in the type's
 * colour: the title as the embed's title, the body as its description.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nh_internal.h"

#define DISCORD_MAX_CONTENT 2000

/* Markdown in Discord's dialect (nh_markdown.c), html as plain text. */
static char *discord_body(const nh_message *m) {
  if (!nh_format_is(m, "markdown")) return nh_body_text(m);
  nh_buf b = { 0 };
  nh_buf_markdown(&b, m->body, NH_MD_DISCORD);
  return nh_buf_take(&b);
}

static char *discord_render(const nh_message *m, const nh_target *t, int *in_chars) {
  (void)t;
  *in_chars = 1;
  char *body = discord_body(m);
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
  /* Apprise's colours: #3AA3E3, #3AA337, #CACF29, #A32037 */
  static const int colour[4] = { 0x3AA3E3, 0x3AA337, 0xCACF29, 0xA32037 };
  int unused;
  cJSON *root = cJSON_CreateObject();
  if (m->type != NH_TYPE_NONE && !nh_platform_data(m, "discord", "embeds")) {
    cJSON *list = cJSON_CreateArray(), *embed = cJSON_CreateObject();
    char *body = discord_body(m);
    if (m->title) cJSON_AddStringToObject(embed, "title", m->title);
    if (body && *body) cJSON_AddStringToObject(embed, "description", body);
    free(body);
    cJSON_AddNumberToObject(embed, "color", colour[m->type - NH_TYPE_INFO]);
    cJSON_AddItemToArray(list, embed);
    cJSON_AddItemToObject(root, "embeds", list);
  } else {
    char *content = discord_render(m, t, &unused);
    cJSON_AddStringToObject(root, "content", content ? content : "");
    free(content);
  }
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
