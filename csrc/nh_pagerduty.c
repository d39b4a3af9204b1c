/*
 * nh_pagerduty.c: PagerDuty Events API v2 (POST /v2/enqueue). The event is
 * {routing_key, event_action, dedup_key, payload: {summary, source,
 * severity, custom_details}}. dedup_key is the message id, so a message sent
 * again (a retry, a spool takeover) updates the same alert instead of
 * opening another; platform_data.pagerduty may name another (to resolve an
 * alert an earlier message opened) and any other top-level field, its
 * `payload` merged into ours. The summary (title: body) holds at most 1,024
 * characters. Answers: 202 {"status":"success","dedup_key"}; 400
 * {"status":"invalid event","message","errors":[...]}; 429; 5xx.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nh_internal.h"

#define PAGERDUTY_MAX_SUMMARY 1024

/* The target's severity (an Apprise URL's ?severity=), else message.type as
 * PagerDuty's severity; an urgent message is critical. */
static const char *pagerduty_severity(const nh_message *m, const nh_target *t) {
  if (nh_opt_string(t, "severity")) return nh_opt_string(t, "severity");
  if (m->priority == NH_PRIORITY_URGENT) return "critical";
  switch (m->type) {
  case NH_TYPE_FAILURE: return "error";
  case NH_TYPE_WARNING: return "warning";
  default: return "info";
  }
}

static char *pagerduty_render(const nh_message *m, const nh_target *t, int *in_chars) {
  (void)t;
  *in_chars = 1;
  return nh_title_body(m, ": ");
}

static size_t pagerduty_limit(const nh_message *m, const nh_target *t) {
  (void)m;
  (void)t;
  return PAGERDUTY_MAX_SUMMARY;
}

static cJSON *pagerduty_payload(const nh_message *m, const nh_target *t) {
  int unused;
  char *summary = pagerduty_render(m, t, &unused);
  cJSON *payload = cJSON_CreateObject();
  cJSON_AddStringToObject(payload, "summary", summary ? summary : "");
  free(summary);
  const char *source = nh_opt_string(t, "source");
  cJSON_AddStringToObject(payload, "source", source ? source : "notifyhub");
  cJSON_AddStringToObject(payload, "severity", pagerduty_severity(m, t));
  const char *opts[] = { "component", "group", "class" };
  for (int i = 0; i < 3; i++)
    if (nh_opt_string(t, opts[i]))
      cJSON_AddStringToObject(payload, opts[i], nh_opt_string(t, opts[i]));
  if (m->metadata)
    cJSON_AddItemToObject(payload, "custom_details", cJSON_Duplicate(m->metadata, 1));
  nh_json_merge(payload, nh_platform_data(m, "pagerduty", "payload"));
  return payload;
}

static nh_code pagerduty_build(const nh_message *m, const nh_target *t, nh_request *req, char *err,
                               size_t errlen) {
  cJSON *root = cJSON_CreateObject();
  const char *key = nh_opt_string(t, "routing_key");
  const char *action = nh_opt_string(t, "event_action");
  cJSON_AddStringToObject(root, "routing_key", key ? key : "");
  cJSON_AddStringToObject(root, "event_action", action ? action : "trigger");
  cJSON_AddStringToObject(root, "dedup_key", m->id ? m->id : "");
  cJSON_AddItemToObject(root, "payload", pagerduty_payload(m, t));
  cJSON *own = cJSON_GetObjectItemCaseSensitive(m->platform_data, "pagerduty");
  for (const cJSON *item = own ? own->child : NULL; item; item = item->next) {
    if (!item->string || strcmp(item->string, "payload") == 0) continue;
    cJSON_DeleteItemFromObjectCaseSensitive(root, item->string);
    cJSON_AddItemToObject(root, item->string, cJSON_Duplicate(item, 1));
  }
  /* acknowledge and resolve name an alert; they carry no payload */
  cJSON *act = cJSON_GetObjectItemCaseSensitive(root, "event_action");
  if (!cJSON_IsString(act) || strcmp(act->valuestring, "trigger") != 0)
    cJSON_DeleteItemFromObjectCaseSensitive(root, "payload");
  return nh_request_json(req, t, nh_strdup(t->url), root, err, errlen);
}

static void pagerduty_classify(const nh_target *t, const nh_answer *a, nh_result *r) {
  (void)t;
  cJSON *root = cJSON_ParseWithLength(a->body, a->body_len);
  cJSON *status = cJSON_GetObjectItemCaseSensitive(root, "status");
  cJSON *msg = cJSON_GetObjectItemCaseSensitive(root, "message");
  cJSON *errors = cJSON_GetObjectItemCaseSensitive(root, "errors");
  cJSON *first = cJSON_IsArray(errors) ? cJSON_GetArrayItem(errors, 0) : NULL;
  nh_classify_http(a, r);
  if (r->success && cJSON_IsString(status) && strcmp(status->valuestring, "success") == 0) {
    cJSON_Delete(root);
    return;
  }
  if (r->success) r->code = NH_PLATFORM_REJECTED; /* a 2xx that does not say success */
  nh_result_set(r, r->code, "pagerduty: HTTP %ld: %.100s%s%.200s", a->http_status,
                cJSON_IsString(msg) ? msg->valuestring : "(no message)",
                cJSON_IsString(first) ? ": " : "", cJSON_IsString(first) ? first->valuestring : "");
  cJSON_Delete(root);
}

/* The config section (config.lua checks each key by its kind). */
static const nh_platform_key pagerduty_keys[] = {
  { "routing_key", "string", NH_KEY_REQUIRED | NH_KEY_SECRET | NH_KEY_OPTION, NULL, NULL },
  { "url", "http_url", NH_KEY_VALUE, NULL, "https://events.pagerduty.com/v2/enqueue" },
  { "event_action", "choice", NH_KEY_OPTION, "trigger,acknowledge,resolve", NULL },
  { "source", "text", NH_KEY_OPTION, NULL, NULL },
  { "component", "text", NH_KEY_OPTION, NULL, NULL },
  { "group", "text", NH_KEY_OPTION, NULL, NULL },
  { "class", "text", NH_KEY_OPTION, NULL, NULL },
  { "severity", "choice", NH_KEY_OPTION, "critical,error,warning,info", NULL },
  { "overflow", "choice", 0, "truncate,error", NULL },
  { NULL, NULL, 0, NULL, NULL },
};

/* Retried: no answer, a timeout, HTTP 429, 408, 5xx. PagerDuty publishes 120
 * events a minute per integration (routing) key. */
static const nh_platform_desc pagerduty_desc = {
  .name = "pagerduty",
  .keys = pagerduty_keys,
  .value = NH_VALUE_URL,
  .rate = { .per_minute = 120 },
  .transient = NH_TRANSIENT_HTTP,
};

const nh_platform nh_platform_pagerduty = {
  .name = "pagerduty",
  .desc = &pagerduty_desc,
  .build = pagerduty_build,
  .render = pagerduty_render,
  .limit = pagerduty_limit,
  .classify = pagerduty_classify,
};
