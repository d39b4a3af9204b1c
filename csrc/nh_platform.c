/*
 * nh_platform.c: the platform table and what platforms share: request
 * clean-up, JSON bodies and plain HTTP-status classification.
 */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nh_internal.h"

static const nh_platform *const platforms[] = {
#define NH_X_ENTRY(id, name) &nh_platform_##name,
  NH_PLATFORMS(NH_X_ENTRY)
#undef NH_X_ENTRY
};

const nh_platform *nh_platform_get(nh_platform_id id) {
  if ((unsigned)id >= NH_PLATFORM_COUNT) return NULL;
  return platforms[id];
}

const nh_platform_desc *nh_platform_describe(nh_platform_id id) {
  const nh_platform *p = nh_platform_get(id);
  return p ? p->desc : NULL;
}

static const char *const value_names[] = {
#define NH_X_NAME(id, name) #name,
  NH_VALUES(NH_X_NAME)
#undef NH_X_NAME
};

const char *nh_value_name(nh_value_kind v) {
  return (unsigned)v < NH_VALUE_COUNT ? value_names[v] : "none";
}

static const char *const failure_names[] = {
#define NH_X_NAME(id, name) #name,
  NH_FAILURES(NH_X_NAME)
#undef NH_X_NAME
};

const char *nh_failure_name(nh_failure f) {
  return (unsigned)f < NH_FAIL_COUNT ? failure_names[f] : "other";
}

nh_failure nh_failure_class(const nh_result *r) {
  switch (r->code) {
  case NH_NETWORK: return NH_FAIL_NETWORK;
  case NH_TIMEOUT: return NH_FAIL_TIMEOUT;
  case NH_TLS: return NH_FAIL_TLS;
  case NH_RATE_LIMITED: return NH_FAIL_RATE_LIMITED;
  case NH_HTTP_STATUS:
    if (r->http_status == 408) return NH_FAIL_HTTP_408;
    return r->http_status >= 500 ? NH_FAIL_HTTP_5XX : NH_FAIL_HTTP_OTHER;
  case NH_PLATFORM_REJECTED: return r->transient ? NH_FAIL_REPLY_4XX : NH_FAIL_REJECTED;
  default: return NH_FAIL_OTHER;
  }
}

int nh_platform_transient(nh_platform_id id, const nh_result *r) {
  const nh_platform_desc *d = nh_platform_describe(id);
  if (!d || r->success) return 0;
  return (d->transient & (1u << nh_failure_class(r))) != 0;
}

void nh_request_free(nh_request *req) {
  free(req->url);
  free(req->body);
  free(req->mail_from);
  curl_slist_free_all(req->headers);
  curl_slist_free_all(req->rcpt);
  memset(req, 0, sizeof *req);
}

static int add_header(nh_request *req, const char *line) {
  struct curl_slist *l = curl_slist_append(req->headers, line);
  if (!l) return -1;
  req->headers = l;
  return 0;
}

int nh_request_add_header(nh_request *req, const char *line) {
  return line ? add_header(req, line) : -1;
}

int nh_request_json_headers(nh_request *req, const nh_target *t) {
  /* "Expect:" stops libcurl from waiting for 100-continue on larger bodies. */
  if (add_header(req, "Content-Type: application/json; charset=utf-8") ||
      add_header(req, "Expect:"))
    return -1;
  for (size_t i = 0; i < t->n_headers; i++)
    if (add_header(req, t->headers[i])) return -1;
  return 0;
}

nh_code nh_request_set_json(nh_request *req, cJSON *root, char *err, size_t errlen) {
  req->body = root ? cJSON_PrintUnformatted(root) : NULL;
  cJSON_Delete(root);
  if (!req->body) {
    snprintf(err, errlen, "out of memory while building the JSON body");
    return NH_NO_MEMORY;
  }
  req->body_len = strlen(req->body);
  return NH_OK;
}

nh_code nh_request_json(nh_request *req, const nh_target *t, char *url, cJSON *root, char *err,
                        size_t errlen) {
  req->url = url;
  if (!url || nh_request_json_headers(req, t)) {
    cJSON_Delete(root);
    snprintf(err, errlen, "out of memory while building the request");
    return NH_NO_MEMORY;
  }
  return nh_request_set_json(req, root, err, errlen);
}

int nh_json_code(const cJSON *item, long *code) {
  if (!cJSON_IsNumber(item)) return 0;
  double v = item->valuedouble;
  if (!(fabs(v) <= 9007199254740992.0) || v != floor(v)) return 0; /* NaN fails too */
  if (v < (double)LONG_MIN || v > (double)LONG_MAX) return 0;      /* a 32-bit long */
  *code = (long)v;
  return 1;
}

void nh_classify_http(const nh_answer *a, nh_result *r) {
  if (a->http_status >= 200 && a->http_status < 300) {
    nh_result_set(r, NH_OK, NULL);
  } else if (a->http_status == 429) {
    nh_result_set(r, NH_RATE_LIMITED, "HTTP 429 Too Many Requests");
  } else {
    nh_result_set(r, NH_HTTP_STATUS, "HTTP status %ld", a->http_status);
  }
}

/* ---- options and message data ------------------------------------------- */

cJSON *nh_opt_item(const nh_target *t, const char *key) {
  return cJSON_GetObjectItemCaseSensitive(t->options, key);
}

const char *nh_opt_string(const nh_target *t, const char *key) {
  cJSON *item = nh_opt_item(t, key);
  return cJSON_IsString(item) ? item->valuestring : NULL;
}

int nh_opt_bool(const nh_target *t, const char *key, int dflt) {
  cJSON *item = nh_opt_item(t, key);
  return cJSON_IsBool(item) ? cJSON_IsTrue(item) : dflt;
}

cJSON *nh_platform_data(const nh_message *m, const char *platform, const char *key) {
  cJSON *own = cJSON_GetObjectItemCaseSensitive(m->platform_data, platform);
  return cJSON_GetObjectItemCaseSensitive(own, key);
}

/* ---- helpers of the issue-14 platforms ----------------------------------- */

void nh_json_merge(cJSON *dst, const cJSON *src) {
  if (!cJSON_IsObject(dst) || !cJSON_IsObject(src)) return;
  for (const cJSON *item = src->child; item; item = item->next) {
    if (!item->string) continue;
    cJSON_DeleteItemFromObjectCaseSensitive(dst, item->string);
    cJSON_AddItemToObject(dst, item->string, cJSON_Duplicate(item, 1));
  }
}

int nh_part_index(const nh_message *m, const nh_target *t) {
  for (size_t i = 0; i < t->n_parts; i++)
    if (t->parts[i] == m->body) return (int)i;
  return 0;
}

nh_code nh_request_auth(nh_request *req, const char *scheme, const char *key, const char *name,
                        char *err, size_t errlen) {
  /* a CR or LF in a configured key would start another header */
  for (const char *s = key ? key : ""; *s; s++) {
    if ((unsigned char)*s < 0x20 || *s == 0x7f) {
      snprintf(err, errlen, "%s holds a control character", name);
      return NH_INVALID_MESSAGE;
    }
  }
  char *line = nh_sprintf("Authorization: %s %s", scheme, key ? key : "");
  if (!line || add_header(req, line)) {
    free(line);
    snprintf(err, errlen, "out of memory while building the request");
    return NH_NO_MEMORY;
  }
  free(line);
  return NH_OK;
}
