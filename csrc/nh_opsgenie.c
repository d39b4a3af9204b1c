/*
 * nh_opsgenie.c: Opsgenie's Alert API (POST /v2/alerts, EU:
 * api.eu.opsgenie.com) with `Authorization: GenieKey <api_key>`. The alert
 * is {message (at most 130 characters: the title, or the body's first
 * line), alias (the message id: Opsgenie keeps one open alert per alias, so
 * a message sent again does not open another), description (the body, at
 * most 15,000 characters), priority (P1..P5 from message.type and
 * priority), tags (the alert_tags option), source, entity, details (metadata as strings)}, any
 * field of platform_data.opsgenie replacing ours. Answers: 202 {"result",
 * "took","requestId"} (accepted: Opsgenie creates the alert afterwards);
 * errors {"message","took","requestId"} with 400, 401, 402, 403, 404, 422;
 * 429 past the plan's rate.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nh_internal.h"

#define OPSGENIE_MAX_MESSAGE 130
#define OPSGENIE_MAX_DESCRIPTION 15000

static const char *opsgenie_priority(const nh_message *m, const nh_target *t) {
  if (nh_opt_string(t, "priority")) return nh_opt_string(t, "priority"); /* fixed per target */
  if (m->priority == NH_PRIORITY_URGENT) return "P1";
  switch (m->type) {
  case NH_TYPE_FAILURE: return "P2";
  case NH_TYPE_SUCCESS: return "P5";
  default: return "P3"; /* Opsgenie's own default: info and warning */
  }
}

/* The description: the body as text (html as plain text). */
static char *opsgenie_render(const nh_message *m, const nh_target *t, int *in_chars) {
  (void)t;
  *in_chars = 1;
  return nh_body_text(m);
}

static size_t opsgenie_limit(const nh_message *m, const nh_target *t) {
  (void)m;
  (void)t;
  return OPSGENIE_MAX_DESCRIPTION;
}

/* details must map names to strings: other metadata values go as JSON. */
static cJSON *opsgenie_details(const cJSON *metadata) {
  cJSON *out = cJSON_CreateObject();
  for (const cJSON *item = metadata ? metadata->child : NULL; item; item = item->next) {
    if (!item->string) continue;
    if (cJSON_IsString(item)) {
      cJSON_AddStringToObject(out, item->string, item->valuestring);
    } else {
      char *json = cJSON_PrintUnformatted(item);
      cJSON_AddStringToObject(out, item->string, json ? json : "");
      free(json);
    }
  }
  return out;
}

static nh_code opsgenie_build(const nh_message *m, const nh_target *t, nh_request *req, char *err,
                              size_t errlen) {
  int unused;
  char *body = opsgenie_render(m, t, &unused);
  char *message = nh_text_line(m->title ? m->title : body, OPSGENIE_MAX_MESSAGE);
  cJSON *root = cJSON_CreateObject();
  cJSON_AddStringToObject(root, "message", message ? message : "");
  cJSON_AddStringToObject(root, "alias", m->id ? m->id : "");
  if (body && *body && (m->title || strcmp(body, message ? message : "") != 0))
    cJSON_AddStringToObject(root, "description", body);
  free(message);
  free(body);
  cJSON_AddStringToObject(root, "priority", opsgenie_priority(m, t));
  cJSON *tags = nh_opt_item(t, "alert_tags");
  if (cJSON_IsArray(tags)) cJSON_AddItemToObject(root, "tags", cJSON_Duplicate(tags, 1));
  const char *opts[] = { "source", "entity" };
  for (int i = 0; i < 2; i++)
    if (nh_opt_string(t, opts[i]))
      cJSON_AddStringToObject(root, opts[i], nh_opt_string(t, opts[i]));
  if (cJSON_IsObject(m->metadata))
    cJSON_AddItemToObject(root, "details", opsgenie_details(m->metadata));
  nh_json_merge(root, cJSON_GetObjectItemCaseSensitive(m->platform_data, "opsgenie"));
  nh_code rc = nh_request_json(req, t, nh_strdup(t->url), root, err, errlen);
  if (rc != NH_OK) return rc;
  return nh_request_auth(req, "GenieKey", nh_opt_string(t, "api_key"), "api_key", err, errlen);
}

static void opsgenie_classify(const nh_target *t, const nh_answer *a, nh_result *r) {
  (void)t;
  nh_classify_http(a, r);
  cJSON *root = cJSON_ParseWithLength(a->body, a->body_len);
  /* every answer of Opsgenie's carries a requestId: a 2xx without one (a
   * login page, a proxy) created no alert */
  if (r->success && cJSON_IsString(cJSON_GetObjectItemCaseSensitive(root, "requestId"))) {
    cJSON_Delete(root);
    return;
  }
  if (r->success) r->code = NH_PLATFORM_REJECTED;
  cJSON *msg = cJSON_GetObjectItemCaseSensitive(root, "message");
  cJSON *errors = cJSON_GetObjectItemCaseSensitive(root, "errors");
  cJSON *first = cJSON_IsObject(errors) ? errors->child : NULL;
  char detail[300] = "";
  if (first && first->string && cJSON_IsString(first))
    snprintf(detail, sizeof detail, " (%.60s: %.200s)", first->string, first->valuestring);
  nh_result_set(r, r->code, "opsgenie: HTTP %ld: %.200s%s", a->http_status,
                cJSON_IsString(msg)    ? msg->valuestring
                : a->http_status < 300 ? "no requestId in the answer"
                                       : "(no message)",
                detail);
  cJSON_Delete(root);
}

/* The config section (config.lua checks each key by its kind). */
static const nh_platform_key opsgenie_keys[] = {
  { "api_key", "header_value", NH_KEY_REQUIRED | NH_KEY_SECRET | NH_KEY_OPTION, NULL, NULL },
  { "url", "http_url", NH_KEY_VALUE, NULL, "https://api.opsgenie.com/v2/alerts" },
  { "alert_tags", "strings", NH_KEY_OPTION, NULL, NULL },
  { "source", "text", NH_KEY_OPTION, NULL, NULL },
  { "entity", "text", NH_KEY_OPTION, NULL, NULL },
  { "priority", "choice", NH_KEY_OPTION, "P1,P2,P3,P4,P5", NULL },
  { "overflow", "choice", 0, "truncate,error", NULL },
  { NULL, NULL, 0, NULL, NULL },
};

/* Retried: no answer, a timeout, HTTP 429, 408, 5xx. Opsgenie's limits
 * depend on the plan (its 429s are followed instead). */
static const nh_platform_desc opsgenie_desc = {
  .name = "opsgenie",
  .keys = opsgenie_keys,
  .value = NH_VALUE_URL,
  .rate = { 0 },
  .transient = NH_TRANSIENT_HTTP,
};

const nh_platform nh_platform_opsgenie = {
  .name = "opsgenie",
  .desc = &opsgenie_desc,
  .build = opsgenie_build,
  .render = opsgenie_render,
  .limit = opsgenie_limit,
  .classify = opsgenie_classify,
};
