/*
 * nh_webhook.c: the generic webhook. The message goes out as one JSON
 * object (id, title, body, format, priority, metadata) with the target's
 * method and headers; any 2xx answer means delivered.
 */
#include <stdio.h>

#include "nh_internal.h"

static const char *const priority_names[] = { "low", "normal", "high", "urgent" };

static cJSON *message_json(const nh_message *m) {
  cJSON *root = cJSON_CreateObject();
  if (!root) return NULL;
  cJSON_AddStringToObject(root, "id", m->id);
  if (m->title) cJSON_AddStringToObject(root, "title", m->title);
  if (m->body) cJSON_AddStringToObject(root, "body", m->body);
  cJSON_AddStringToObject(root, "format", m->format ? m->format : "text");
  cJSON_AddStringToObject(root, "priority", priority_names[m->priority & 3]);
  if (m->metadata) cJSON_AddItemToObject(root, "metadata", cJSON_Duplicate(m->metadata, 1));
  return root;
}

static nh_code webhook_build(const nh_message *m, const nh_target *t, nh_request *req,
                             char *err, size_t errlen) {
  req->url = nh_strdup(t->url);
  req->method = t->method;
  if (!req->url || nh_request_json_headers(req, t)) {
    snprintf(err, errlen, "out of memory while building the request");
    return NH_NO_MEMORY;
  }
  return nh_request_set_json(req, message_json(m), err, errlen);
}

static void webhook_classify(const nh_target *t, const nh_answer *a, nh_result *r) {
  (void)t;
  nh_classify_http(a, r);
}

const nh_platform nh_platform_webhook = { "webhook", webhook_build, webhook_classify };
