/*
 * nh_feishu.c: the Feishu/Lark custom bot.
 *
 * Builds `text` and `post` bodies, signs them when the bot has a secret
 * (timestamp in seconds and base64(HMAC-SHA256(key = timestamp "\n" secret,
 * message = "")) in the body, fresh for every attempt) and makes sure one of
 * the bot's keywords is in the text. Feishu answers HTTP 200 to most
 * failures, so the `code` in the body (or the legacy `StatusCode`) decides.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nh_internal.h"

#define FEISHU_MAX_BODY (20 * 1024)
#define FEISHU_RATE_LIMITED 11232

static int has_keyword(const nh_message *m, const nh_target *t) {
  for (size_t i = 0; i < t->n_keywords; i++) {
    const char *k = t->keywords[i];
    if ((m->title && strstr(m->title, k)) || (m->body && strstr(m->body, k))) return 1;
  }
  return t->n_keywords == 0;
}

/* The message type: platform_data.feishu.msg_type, else post when there is
 * a title, else text. */
static const char *msg_type(const nh_message *m) {
  cJSON *own = cJSON_GetObjectItemCaseSensitive(m->platform_data, "feishu");
  cJSON *type = cJSON_GetObjectItemCaseSensitive(own, "msg_type");
  if (cJSON_IsString(type)) return type->valuestring;
  return m->title ? "post" : "text";
}

/* text: the title on its own line above the body. */
static cJSON *text_content(const nh_message *m, const char *prefix) {
  char *text = nh_sprintf("%s%s%s%s%s", prefix ? prefix : "", prefix ? " " : "",
                          m->title ? m->title : "", m->title && m->body ? "\n" : "",
                          m->body ? m->body : "");
  cJSON *content = cJSON_CreateObject();
  if (text) cJSON_AddStringToObject(content, "text", text);
  free(text);
  return content;
}

/* post: each line of the body is one paragraph of one text element. */
static cJSON *post_paragraphs(const char *body) {
  cJSON *paragraphs = cJSON_CreateArray();
  for (const char *p = body; p && *p;) {
    const char *eol = strchr(p, '\n');
    size_t n = eol ? (size_t)(eol - p) : strlen(p);
    char *line = nh_strndup(p, n);
    cJSON *el = cJSON_CreateObject(), *para = cJSON_CreateArray();
    cJSON_AddStringToObject(el, "tag", "text");
    cJSON_AddStringToObject(el, "text", line ? line : "");
    free(line);
    cJSON_AddItemToArray(para, el);
    cJSON_AddItemToArray(paragraphs, para);
    p = eol ? eol + 1 : p + n;
  }
  return paragraphs;
}

static cJSON *post_content(const nh_message *m, const char *prefix) {
  char *title = nh_sprintf("%s%s%s", prefix ? prefix : "", prefix && m->title ? " " : "",
                           m->title ? m->title : "");
  cJSON *lang = cJSON_CreateObject();
  cJSON_AddStringToObject(lang, "title", title ? title : "");
  free(title);
  cJSON_AddItemToObject(lang, "content", post_paragraphs(m->body));
  cJSON *post = cJSON_CreateObject(), *content = cJSON_CreateObject();
  cJSON_AddItemToObject(post, "zh_cn", lang);
  cJSON_AddItemToObject(content, "post", post);
  return content;
}

static int add_signature(cJSON *root, const char *secret) {
  char ts[32], sign[64];
  snprintf(ts, sizeof ts, "%lld", (long long)nh_wall_time());
  char *key = nh_sprintf("%s\n%s", ts, secret);
  int rc = key ? nh_hmac_sha256_base64(key, strlen(key), "", 0, sign, sizeof sign) : -1;
  free(key);
  if (rc) return -1;
  cJSON_AddStringToObject(root, "timestamp", ts);
  cJSON_AddStringToObject(root, "sign", sign);
  return 0;
}

static nh_code feishu_build(const nh_message *m, const nh_target *t, nh_request *req,
                            char *err, size_t errlen) {
  const char *type = msg_type(m);
  const char *prefix = has_keyword(m, t) ? NULL : t->keywords[0];
  cJSON *root = cJSON_CreateObject();
  if (t->secret && add_signature(root, t->secret)) {
    cJSON_Delete(root);
    snprintf(err, errlen, "feishu: could not compute the signature");
    return NH_INTERNAL;
  }
  cJSON_AddStringToObject(root, "msg_type", type);
  if (strcmp(type, "text") == 0) {
    cJSON_AddItemToObject(root, "content", text_content(m, prefix));
  } else if (strcmp(type, "post") == 0) {
    cJSON_AddItemToObject(root, "content", post_content(m, prefix));
  } else {
    cJSON_Delete(root);
    snprintf(err, errlen, "feishu: msg_type '%.40s' is not supported (text, post)", type);
    return NH_INVALID_MESSAGE;
  }
  req->url = nh_strdup(t->url);
  if (!req->url || nh_request_json_headers(req, t)) {
    cJSON_Delete(root);
    snprintf(err, errlen, "out of memory while building the request");
    return NH_NO_MEMORY;
  }
  nh_code rc = nh_request_set_json(req, root, err, errlen);
  if (rc == NH_OK && req->body_len > FEISHU_MAX_BODY) {
    snprintf(err, errlen, "feishu: the request body is %zu bytes, over the 20 KB limit",
             req->body_len);
    return NH_INVALID_MESSAGE;
  }
  return rc;
}

/* The answer's code: `code`, else the legacy `StatusCode`. */
static int answer_code(cJSON *root, long *code, const char **msg) {
  cJSON *c = cJSON_GetObjectItemCaseSensitive(root, "code");
  cJSON *text = cJSON_GetObjectItemCaseSensitive(root, "msg");
  if (!cJSON_IsNumber(c)) {
    c = cJSON_GetObjectItemCaseSensitive(root, "StatusCode");
    text = cJSON_GetObjectItemCaseSensitive(root, "StatusMessage");
  }
  if (!cJSON_IsNumber(c)) return 0;
  *code = (long)c->valuedouble;
  *msg = cJSON_IsString(text) ? text->valuestring : "";
  return 1;
}

static void feishu_classify(const nh_target *t, const nh_answer *a, nh_result *r) {
  (void)t;
  cJSON *root = cJSON_ParseWithLength(a->body, a->body_len);
  long code = 0;
  const char *msg = "";
  int known = answer_code(root, &code, &msg);
  if (known) {
    r->has_platform_code = 1;
    r->platform_code = code;
  }
  if (a->http_status < 200 || a->http_status >= 300) {
    nh_classify_http(a, r);
    if (known) nh_result_set(r, r->code, "feishu: HTTP %ld, code %ld: %.200s",
                             a->http_status, code, msg);
  } else if (!known) {
    nh_result_set(r, NH_PLATFORM_REJECTED, "feishu: the answer carries no code");
  } else if (code == 0) {
    nh_result_set(r, NH_OK, NULL);
  } else {
    nh_result_set(r, code == FEISHU_RATE_LIMITED ? NH_RATE_LIMITED : NH_PLATFORM_REJECTED,
                  "feishu: code %ld: %.200s", code, msg);
  }
  cJSON_Delete(root);
}

const nh_platform nh_platform_feishu = { "feishu", feishu_build, feishu_classify };
