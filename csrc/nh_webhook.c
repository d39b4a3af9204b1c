/*
 * nh_webhook.c: the generic webhook. The body is the message as one JSON
 * object (id, title, body, format, priority, metadata) or the target's own
 * `template`, sent with the target's method, headers and content type; any
 * 2xx answer means delivered. With a `secret` the request is signed by the
 * Standard Webhooks scheme: webhook-id (the message id, the same on every
 * attempt), webhook-timestamp (fresh per attempt) and
 * webhook-signature: v1,base64(HMAC-SHA256(key, id "." timestamp "." body)),
 * where a "whsec_" secret's key is the base64-decoded rest.
 * payload = "apprise" sends Apprise's JSON notification instead (json://):
 * {"version":"1.0","title","message","attachments":[],"type"}, with its
 * `fields` renamed, removed or added as Apprise does.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static const char *const type_names[] = { "info", "success", "warning", "failure" };

/* Apprise's payload fields (json://...?:name=value): a field of the body
 * named name is renamed to value (removed when value is empty); any other
 * name is added with value. */
static void apply_fields(cJSON *root, const cJSON *fields) {
  const cJSON *f;
  cJSON_ArrayForEach(f, fields) {
    if (!cJSON_IsString(f) || !f->string) continue;
    cJSON *own = cJSON_DetachItemFromObjectCaseSensitive(root, f->string);
    if (!own) {
      cJSON_AddStringToObject(root, f->string, f->valuestring);
    } else if (f->valuestring[0] == '\0') {
      cJSON_Delete(own);
    } else {
      cJSON_DeleteItemFromObjectCaseSensitive(root, f->valuestring);
      cJSON_AddItemToObject(root, f->valuestring, own);
    }
  }
}

/* Apprise's json:// body, so that receivers written for Apprise read it. */
static cJSON *apprise_json(const nh_message *m, const nh_target *t) {
  cJSON *root = cJSON_CreateObject();
  if (!root) return NULL;
  cJSON_AddStringToObject(root, "version", "1.0");
  cJSON_AddStringToObject(root, "title", m->title ? m->title : "");
  cJSON_AddStringToObject(root, "message", m->body ? m->body : "");
  cJSON_AddItemToObject(root, "attachments", cJSON_CreateArray());
  cJSON_AddStringToObject(root, "type", type_names[m->type & 3]);
  apply_fields(root, nh_opt_item(t, "fields"));
  return root;
}

/* A field's value for a template: JSON-escaped (without quotes) when the
 * body is JSON, raw otherwise. */
static void put_field(nh_buf *b, const char *value, int json) {
  if (!json) {
    nh_buf_puts(b, value);
    return;
  }
  cJSON *item = cJSON_CreateString(value);
  char *quoted = item ? cJSON_PrintUnformatted(item) : NULL;
  cJSON_Delete(item);
  if (quoted) nh_buf_add(b, quoted + 1, strlen(quoted) - 2);
  free(quoted);
}

static const char *field(const nh_message *m, const char *name, size_t n) {
  if (n == 2 && strncmp(name, "id", 2) == 0) return m->id;
  if (n == 5 && strncmp(name, "title", 5) == 0) return m->title ? m->title : "";
  if (n == 4 && strncmp(name, "body", 4) == 0) return m->body ? m->body : "";
  if (n == 6 && strncmp(name, "format", 6) == 0) return m->format ? m->format : "text";
  if (n == 8 && strncmp(name, "priority", 8) == 0) return priority_names[m->priority & 3];
  return NULL;
}

/* {{id}}, {{title}}, {{body}}, {{format}}, {{priority}}; anything else is
 * left as it is. */
static char *render_template(const nh_message *m, const char *tpl, int json) {
  nh_buf b = { 0 };
  for (const char *p = tpl; *p;) {
    const char *open = strstr(p, "{{"), *close = open ? strstr(open, "}}") : NULL;
    const char *value = close ? field(m, open + 2, (size_t)(close - open - 2)) : NULL;
    if (!value) {
      size_t n = open ? (size_t)(open - p) + 2 : strlen(p);
      nh_buf_add(&b, p, n);
      p += n;
      continue;
    }
    nh_buf_add(&b, p, (size_t)(open - p));
    put_field(&b, value, json);
    p = close + 2;
  }
  return nh_buf_take(&b);
}

/* -1 when out of memory or when value holds CR or LF (never sent). */
static int add_header(nh_request *req, const char *fmt, const char *value) {
  if (strpbrk(value, "\r\n")) return -1;
  char *line = nh_sprintf(fmt, value);
  struct curl_slist *l = line ? curl_slist_append(req->headers, line) : NULL;
  free(line);
  if (!l) return -1;
  req->headers = l;
  return 0;
}

static int sign(const nh_message *m, const nh_target *t, nh_request *req) {
  size_t keylen = 0;
  unsigned char *key = NULL;
  if (strncmp(t->secret, "whsec_", 6) == 0) key = nh_base64_decode(t->secret + 6, &keylen);
  else key = (unsigned char *)nh_strdup(t->secret), keylen = strlen(t->secret);
  if (!key) return -1;
  char ts[32], mac[64];
  snprintf(ts, sizeof ts, "%lld", (long long)nh_wall_time());
  char *signed_text = nh_sprintf("%s.%s.%.*s", m->id, ts, (int)req->body_len, req->body);
  int rc = signed_text
             ? nh_hmac_sha256_base64(key, keylen, signed_text, strlen(signed_text), mac, sizeof mac)
             : -1;
  free(signed_text);
  free(key);
  if (rc) return -1;
  return add_header(req, "webhook-id: %s", m->id) || add_header(req, "webhook-timestamp: %s", ts) ||
         add_header(req, "webhook-signature: v1,%s", mac);
}

static int add_headers(nh_request *req, const nh_target *t) {
  const char *type = nh_opt_string(t, "content_type");
  if (add_header(req, "Content-Type: %s", type ? type : "application/json; charset=utf-8") ||
      add_header(req, "%s", "Expect:"))
    return -1;
  for (size_t i = 0; i < t->n_headers; i++)
    if (add_header(req, "%s", t->headers[i])) return -1;
  return 0;
}

static nh_code webhook_build(const nh_message *m, const nh_target *t, nh_request *req, char *err,
                             size_t errlen) {
  const char *ctype = nh_opt_string(t, "content_type");
  int bad_header = ctype && strpbrk(ctype, "\r\n");
  for (size_t i = 0; i < t->n_headers; i++) bad_header |= strpbrk(t->headers[i], "\r\n") != NULL;
  if (strpbrk(m->id, "\r\n") || bad_header) { /* webhook-id is a header too */
    snprintf(err, errlen, "webhook: CR or LF in a header value");
    return NH_INVALID_MESSAGE;
  }
  const char *tpl = nh_opt_string(t, "template");
  const char *type = nh_opt_string(t, "content_type");
  int json = !type || strcasestr(type, "json") != NULL; /* "Application/JSON" too */
  req->url = nh_strdup(t->url);
  req->method = t->method;
  if (tpl) {
    req->body = render_template(m, tpl, json);
    req->body_len = req->body ? strlen(req->body) : 0;
  } else {
    const char *payload = nh_opt_string(t, "payload");
    int apprise = payload && strcmp(payload, "apprise") == 0;
    nh_code rc =
      nh_request_set_json(req, apprise ? apprise_json(m, t) : message_json(m), err, errlen);
    if (rc != NH_OK) return rc;
  }
  if (!req->url || !req->body || add_headers(req, t) || (t->secret && sign(m, t, req))) {
    snprintf(err, errlen,
             "webhook: could not build the request (out of memory, or a "
             "secret that is not whsec_ + base64)");
    return NH_INTERNAL;
  }
  return NH_OK;
}

static void webhook_classify(const nh_target *t, const nh_answer *a, nh_result *r) {
  (void)t;
  nh_classify_http(a, r);
}

/* The config section (config.lua checks each key by its kind). */
static const nh_platform_key webhook_keys[] = {
  { "url", "http_url", NH_KEY_REQUIRED | NH_KEY_VALUE, NULL, NULL },
  { "method", "method", 0, NULL, NULL },
  { "headers", "headers", NH_KEY_SECRET, NULL, NULL },
  { "secret", "webhook_secret", NH_KEY_SECRET, NULL, NULL },
  { "template", "text", NH_KEY_OPTION, NULL, NULL },
  { "content_type", "header_value", NH_KEY_OPTION, NULL, NULL },
  { "payload", "choice", NH_KEY_OPTION, "notifyhub,apprise", "notifyhub" },
  { "fields", "fields", NH_KEY_OPTION, NULL, NULL },
  { NULL, NULL, 0, NULL, NULL },
};

/* Retried: no answer, a timeout, HTTP 429 or the platform's "too fast", 408, 5xx. */
static const nh_platform_desc webhook_desc = {
  .name = "webhook",
  .keys = webhook_keys,
  .value = NH_VALUE_URL,
  .rate = { 0 },
  .transient = NH_TRANSIENT_HTTP,
};

const nh_platform nh_platform_webhook = {
  .name = "webhook",
  .desc = &webhook_desc,
  .build = webhook_build,
  .classify = webhook_classify,
};
