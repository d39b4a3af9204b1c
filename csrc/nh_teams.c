/*
 * nh_teams.c: Microsoft Teams through a Workflows (Power Automate) webhook,
 * whose URL carries its credential in sig=. The message becomes an Adaptive
 * Card (the title as a bold TextBlock, the body as a wrapped TextBlock, or
 * platform_data.teams.card as it is) inside the `attachments` envelope.
 * A message with a type (message.type) has its blocks in a Container of the
 * type's style (accent, good, warning, attention) and its title in that colour.
 * 200 or 202 is success (202 only says the flow was triggered).
 */
#include <stdio.h>
#include <stdlib.h>

#include "nh_internal.h"

#define TEAMS_MAX_BODY (28 * 1024)

static const char *const type_style[4] = { "accent", "good", "warning", "attention" };
static const char *const type_colour[4] = { "Accent", "Good", "Warning", "Attention" };

static cJSON *text_block(const nh_message *m, const char *text, int title) {
  cJSON *block = cJSON_CreateObject();
  cJSON_AddStringToObject(block, "type", "TextBlock");
  cJSON_AddStringToObject(block, "text", text);
  cJSON_AddBoolToObject(block, "wrap", 1);
  if (title) {
    cJSON_AddStringToObject(block, "weight", "Bolder");
    cJSON_AddStringToObject(block, "size", "Medium");
    if (m->type != NH_TYPE_NONE)
      cJSON_AddStringToObject(block, "color", nh_type_pick(m, type_colour));
  }
  return block;
}

/* The body in TextBlock's markdown subset; html as plain text. */
static char *body_text(const nh_message *m) {
  if (!nh_format_is(m, "markdown")) return nh_body_text(m);
  nh_buf b = { 0 };
  nh_buf_markdown(&b, m->body, NH_MD_TEAMS);
  return nh_buf_take(&b);
}

static cJSON *card(const nh_message *m) {
  cJSON *own = nh_platform_data(m, "teams", "card");
  if (own) return cJSON_Duplicate(own, 1);
  cJSON *c = cJSON_CreateObject(), *body = cJSON_CreateArray();
  cJSON_AddStringToObject(c, "$schema", "http://adaptivecards.io/schemas/adaptive-card.json");
  cJSON_AddStringToObject(c, "type", "AdaptiveCard");
  cJSON_AddStringToObject(c, "version", "1.4");
  if (m->title) cJSON_AddItemToArray(body, text_block(m, m->title, 1));
  char *text = m->body && *m->body ? body_text(m) : NULL;
  if (text && *text) cJSON_AddItemToArray(body, text_block(m, text, 0));
  free(text);
  if (m->type != NH_TYPE_NONE) {
    cJSON *box = cJSON_CreateObject(), *outer = cJSON_CreateArray();
    cJSON_AddStringToObject(box, "type", "Container");
    cJSON_AddStringToObject(box, "style", nh_type_pick(m, type_style));
    cJSON_AddItemToObject(box, "items", body);
    cJSON_AddItemToArray(outer, box);
    body = outer;
  }
  cJSON_AddItemToObject(c, "body", body);
  return c;
}

static cJSON *envelope(const nh_message *m) {
  cJSON *root = cJSON_CreateObject(), *list = cJSON_CreateArray(), *att = cJSON_CreateObject();
  cJSON_AddStringToObject(root, "type", "message");
  cJSON_AddStringToObject(att, "contentType", "application/vnd.microsoft.card.adaptive");
  cJSON_AddNullToObject(att, "contentUrl");
  cJSON_AddItemToObject(att, "content", card(m));
  cJSON_AddItemToArray(list, att);
  cJSON_AddItemToObject(root, "attachments", list);
  return root;
}

static char *teams_render(const nh_message *m, const nh_target *t, int *in_chars) {
  (void)t;
  *in_chars = 0;
  cJSON *root = envelope(m);
  char *text = cJSON_PrintUnformatted(root);
  cJSON_Delete(root);
  return text;
}

static size_t teams_limit(const nh_message *m, const nh_target *t) {
  (void)m;
  (void)t;
  return TEAMS_MAX_BODY;
}

static nh_code teams_build(const nh_message *m, const nh_target *t, nh_request *req, char *err,
                           size_t errlen) {
  return nh_request_json(req, t, nh_strdup(t->url), envelope(m), err, errlen);
}

static void teams_classify(const nh_target *t, const nh_answer *a, nh_result *r) {
  (void)t;
  nh_classify_http(a, r);
  if (!r->success)
    nh_result_set(r, r->code, "teams: HTTP %ld: %.200s", a->http_status,
                  a->body_len ? a->body : "(no body)");
}

/* The config section (config.lua checks each key by its kind). */
static const nh_platform_key teams_keys[] = {
  { "webhook_url", "http_url", NH_KEY_REQUIRED | NH_KEY_VALUE, NULL, NULL },
  { "overflow", "choice", 0, "truncate,split,error", NULL },
  { NULL, NULL, 0, NULL, NULL },
};

/* Retried: no answer, a timeout, HTTP 429 or the platform's "too fast", 408, 5xx. */
static const nh_platform_desc teams_desc = {
  .name = "teams",
  .keys = teams_keys,
  .value = NH_VALUE_URL,
  .rate = { .per_second = 4 },
  .transient = NH_TRANSIENT_HTTP,
};

const nh_platform nh_platform_teams = {
  .name = "teams",
  .desc = &teams_desc,
  .build = teams_build,
  .render = teams_render,
  .limit = teams_limit,
  .classify = teams_classify,
};
