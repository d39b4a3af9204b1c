/*
 * nh_feishu.c: the Feishu/Lark custom bot.
 *
 * Message types: text, post (a title and paragraphs; markdown rendered by
 * nh_markdown.c: bold and italic as text styles, links as `a` tags), interactive (the card sits at
 * the top level under `card`), image (by image_key) and share_chat. Mentions come from the target's
 * `mentions` option or platform_data.feishu.mentions ("all" or open ids).
 * A message with a type (message.type) and no card of its own becomes a card
 * whose header has the type's colour (info blue, success green, warning
 * orange, failure red) and the title (else the type's word).
 * Requests are signed when the bot has a secret (timestamp in seconds and
 * base64(HMAC-SHA256(key = timestamp "\n" secret, message = "")) in the body,
 * fresh for every attempt), and one of the bot's keywords is put in front of
 * the text when it has none. Feishu answers HTTP 200 to most failures, so the
 * `code` in the body (or the legacy `StatusCode`) decides.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nh_internal.h"

#define FEISHU_MAX_BODY (20 * 1024)
#define SIGNATURE_ROOM 96 /* "timestamp" and "sign" fields */

static int has_keyword(const nh_message *m, const nh_target *t) {
  for (size_t i = 0; i < t->n_keywords; i++) {
    const char *k = t->keywords[i];
    if ((m->title && strstr(m->title, k)) || (m->body && strstr(m->body, k))) return 1;
  }
  return t->n_keywords == 0;
}

/* platform_data.feishu.msg_type, else what the message holds. */
static const char *msg_type(const nh_message *m) {
  cJSON *type = nh_platform_data(m, "feishu", "msg_type");
  if (cJSON_IsString(type)) return type->valuestring;
  if (nh_platform_data(m, "feishu", "card")) return "interactive";
  if (nh_platform_data(m, "feishu", "image_key")) return "image";
  if (nh_platform_data(m, "feishu", "share_chat_id")) return "share_chat";
  if (m->type != NH_TYPE_NONE) return "interactive";
  return m->title || nh_format_is(m, "markdown") ? "post" : "text";
}

static cJSON *mentions(const nh_message *m, const nh_target *t) {
  cJSON *list = nh_platform_data(m, "feishu", "mentions");
  return cJSON_IsArray(list) ? list : nh_opt_item(t, "mentions");
}

/* text: the title on its own line above the body, mentions at the end. */
static cJSON *text_content(const nh_message *m, const nh_target *t, const char *prefix) {
  nh_buf b = { 0 };
  if (prefix) {
    nh_buf_puts(&b, prefix);
    nh_buf_puts(&b, " ");
  }
  char *text = nh_title_body(m, "\n");
  nh_buf_puts(&b, text ? text : "");
  free(text);
  cJSON *who;
  cJSON_ArrayForEach(who, mentions(m, t)) {
    if (!cJSON_IsString(who)) continue;
    nh_buf_puts(&b, " <at user_id=\"");
    nh_buf_puts(&b, who->valuestring);
    nh_buf_puts(&b, strcmp(who->valuestring, "all") == 0 ? "\">All</at>" : "\"></at>");
  }
  char *all = nh_buf_take(&b);
  cJSON *content = cJSON_CreateObject();
  cJSON_AddStringToObject(content, "text", all ? all : "");
  free(all);
  return content;
}

static void add_tag(cJSON *para, const char *tag, const char *text, size_t n, const char *key,
                    const char *value) {
  cJSON *el = cJSON_CreateObject();
  char *copy = nh_strndup(text, n);
  cJSON_AddStringToObject(el, "tag", tag);
  cJSON_AddStringToObject(el, "text", copy ? copy : "");
  if (key) cJSON_AddStringToObject(el, key, value);
  free(copy);
  cJSON_AddItemToArray(para, el);
}

/* The body as post paragraphs: markdown through nh_markdown.c (bold and
 * italic styles, links as `a` tags), other text a paragraph per line. */
static cJSON *post_paragraphs(const nh_message *m) {
  if (nh_format_is(m, "markdown")) return nh_markdown_feishu(m->body);
  cJSON *paragraphs = cJSON_CreateArray();
  char *body = nh_body_text(m);
  for (const char *p = body; p && *p;) {
    const char *eol = strchr(p, '\n');
    size_t n = eol ? (size_t)(eol - p) : strlen(p);
    cJSON *para = cJSON_CreateArray();
    add_tag(para, "text", p, n, NULL, NULL);
    cJSON_AddItemToArray(paragraphs, para);
    p = eol ? eol + 1 : p + n;
  }
  free(body);
  return paragraphs;
}

static cJSON *post_content(const nh_message *m, const nh_target *t, const char *prefix) {
  char *title = nh_sprintf("%s%s%s", prefix ? prefix : "", prefix && m->title ? " " : "",
                           m->title ? m->title : "");
  cJSON *lang = cJSON_CreateObject(), *paragraphs = post_paragraphs(m), *who;
  cJSON_AddStringToObject(lang, "title", title ? title : "");
  free(title);
  cJSON *at_line = cJSON_CreateArray();
  cJSON_ArrayForEach(who, mentions(m, t)) {
    if (!cJSON_IsString(who)) continue;
    cJSON *el = cJSON_CreateObject();
    cJSON_AddStringToObject(el, "tag", "at");
    cJSON_AddStringToObject(el, "user_id", who->valuestring);
    cJSON_AddItemToArray(at_line, el);
  }
  if (cJSON_GetArraySize(at_line) > 0) cJSON_AddItemToArray(paragraphs, at_line);
  else cJSON_Delete(at_line);
  cJSON_AddItemToObject(lang, "content", paragraphs);
  cJSON *post = cJSON_CreateObject(), *content = cJSON_CreateObject();
  cJSON_AddItemToObject(post, "zh_cn", lang);
  cJSON_AddItemToObject(content, "post", post);
  return content;
}

static cJSON *tagged_text(const char *tag, const char *content) {
  cJSON *el = cJSON_CreateObject();
  cJSON_AddStringToObject(el, "tag", tag);
  cJSON_AddStringToObject(el, "content", content ? content : "");
  return el;
}

/* The card for a typed message: header in the type's colour, the body as
 * the card's markdown element (format markdown) or plain text, mentions. */
static cJSON *typed_card(const nh_message *m, const nh_target *t, const char *prefix) {
  static const char *const colour[4] = { "blue", "green", "orange", "red" };
  const char *title = m->title ? m->title : nh_type_word(m, 1);
  char *head = nh_sprintf("%s%s%s", prefix ? prefix : "", prefix ? " " : "", title);
  cJSON *card = cJSON_CreateObject(), *header = cJSON_CreateObject();
  cJSON *elements = cJSON_CreateArray(), *config = cJSON_CreateObject(), *who;
  cJSON_AddBoolToObject(config, "wide_screen_mode", 1);
  cJSON_AddItemToObject(card, "config", config);
  cJSON_AddStringToObject(header, "template", nh_type_pick(m, colour));
  cJSON_AddItemToObject(header, "title", tagged_text("plain_text", head));
  free(head);
  cJSON_AddItemToObject(card, "header", header);
  char *body = m->body && *m->body ? nh_body_text(m) : NULL;
  if (body && nh_format_is(m, "markdown")) {
    cJSON_AddItemToArray(elements, tagged_text("markdown", body));
  } else if (body) {
    cJSON *div = cJSON_CreateObject();
    cJSON_AddStringToObject(div, "tag", "div");
    cJSON_AddItemToObject(div, "text", tagged_text("plain_text", body));
    cJSON_AddItemToArray(elements, div);
  }
  free(body);
  nh_buf at = { 0 };
  cJSON_ArrayForEach(who, mentions(m, t)) {
    if (!cJSON_IsString(who)) continue;
    nh_buf_puts(&at, at.len ? " <at id=" : "<at id=");
    nh_buf_puts(&at, who->valuestring);
    nh_buf_puts(&at, "></at>");
  }
  char *line = nh_buf_take(&at);
  if (line && *line) cJSON_AddItemToArray(elements, tagged_text("markdown", line));
  free(line);
  cJSON_AddItemToObject(card, "elements", elements);
  return card;
}

static cJSON *single(const char *key, cJSON *value) {
  cJSON *content = cJSON_CreateObject();
  cJSON_AddItemToObject(content, key, cJSON_Duplicate(value, 1));
  return content;
}

/* The body without a signature; NULL with err filled for a bad type. */
static cJSON *message_json(const nh_message *m, const nh_target *t, char *err, size_t errlen) {
  const char *type = msg_type(m);
  const char *prefix = has_keyword(m, t) ? NULL : t->keywords[0];
  cJSON *root = cJSON_CreateObject(), *content = NULL;
  cJSON_AddStringToObject(root, "msg_type", type);
  if (strcmp(type, "text") == 0) content = text_content(m, t, prefix);
  else if (strcmp(type, "post") == 0) content = post_content(m, t, prefix);
  else if (strcmp(type, "image") == 0 && cJSON_IsString(nh_platform_data(m, "feishu", "image_key")))
    content = single("image_key", nh_platform_data(m, "feishu", "image_key"));
  else if (strcmp(type, "share_chat") == 0 &&
           cJSON_IsString(nh_platform_data(m, "feishu", "share_chat_id")))
    content = single("share_chat_id", nh_platform_data(m, "feishu", "share_chat_id"));
  else if (strcmp(type, "interactive") == 0 && nh_platform_data(m, "feishu", "card")) {
    cJSON_AddItemToObject(root, "card", cJSON_Duplicate(nh_platform_data(m, "feishu", "card"), 1));
    return root;
  } else if (strcmp(type, "interactive") == 0 && m->type != NH_TYPE_NONE) {
    cJSON_AddItemToObject(root, "card", typed_card(m, t, prefix));
    return root;
  } else {
    cJSON_Delete(root);
    snprintf(
      err, errlen,
      "feishu: msg_type '%.40s' needs what the message does not have "
      "(text, post, interactive with card, image with image_key, share_chat with share_chat_id)",
      type);
    return NULL;
  }
  cJSON_AddItemToObject(root, "content", content);
  return root;
}

static int add_signature(cJSON *root, const char *secret) {
  char ts[32], sign[64];
  snprintf(ts, sizeof ts, "%lld", (long long)nh_wall_time());
  char *key = nh_sprintf("%s\n%s", ts, secret);
  int rc = key ? nh_hmac_sha256_base64(key, strlen(key), "", 0, sign, sizeof sign) : -1;
  free(key);
  if (rc) return -1;
  /* Feishu's examples put both first; the order is not significant. */
  cJSON_AddItemToObject(root, "timestamp", cJSON_CreateString(ts));
  cJSON_AddItemToObject(root, "sign", cJSON_CreateString(sign));
  return 0;
}

static nh_code feishu_build(const nh_message *m, const nh_target *t, nh_request *req, char *err,
                            size_t errlen) {
  cJSON *root = message_json(m, t, err, errlen);
  if (!root) return NH_INVALID_MESSAGE;
  if (t->secret && add_signature(root, t->secret)) {
    cJSON_Delete(root);
    snprintf(err, errlen, "feishu: could not compute the signature");
    return NH_INTERNAL;
  }
  nh_code rc = nh_request_json(req, t, nh_strdup(t->url), root, err, errlen);
  if (rc == NH_OK && req->body_len > FEISHU_MAX_BODY) {
    snprintf(err, errlen, "feishu: the request body is %zu bytes, over the 20 KB limit",
             req->body_len);
    return NH_INVALID_MESSAGE;
  }
  return rc;
}

/* The limit is on the whole request body, in bytes. */
static char *feishu_render(const nh_message *m, const nh_target *t, int *in_chars) {
  char err[8];
  *in_chars = 0;
  cJSON *root = message_json(m, t, err, sizeof err);
  char *text = root ? cJSON_PrintUnformatted(root) : nh_strdup("");
  cJSON_Delete(root);
  return text;
}

static size_t feishu_limit(const nh_message *m, const nh_target *t) {
  (void)m;
  return FEISHU_MAX_BODY - (t->secret ? SIGNATURE_ROOM : 0);
}

static nh_code feishu_check(const nh_message *m, const nh_target *t, char *err, size_t errlen) {
  cJSON *root = message_json(m, t, err, errlen);
  cJSON_Delete(root);
  return root ? NH_OK : NH_INVALID_MESSAGE;
}

/* The answer's code: `code`, else the legacy `StatusCode`. */
static int answer_code(cJSON *root, long *code, const char **msg) {
  cJSON *c = cJSON_GetObjectItemCaseSensitive(root, "code");
  cJSON *text = cJSON_GetObjectItemCaseSensitive(root, "msg");
  if (!cJSON_IsNumber(c)) {
    c = cJSON_GetObjectItemCaseSensitive(root, "StatusCode");
    text = cJSON_GetObjectItemCaseSensitive(root, "StatusMessage");
  }
  if (!nh_json_code(c, code)) return 0;
  *msg = cJSON_IsString(text) ? text->valuestring : "";
  return 1;
}

static nh_code code_class(long code) {
  switch (code) {
  case 0: return NH_OK;
  case 11232: return NH_RATE_LIMITED;   /* frequency limited: retryable */
  default: return NH_PLATFORM_REJECTED; /* 9499, 19001, 19002, 19021, 19022, 19024 ... */
  }
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
    if (known)
      nh_result_set(r, r->code, "feishu: HTTP %ld, code %ld: %.200s", a->http_status, code, msg);
  } else if (!known) {
    nh_result_set(r, NH_PLATFORM_REJECTED, "feishu: the answer carries no code");
  } else if (code == 0) {
    nh_result_set(r, NH_OK, NULL);
  } else {
    nh_result_set(r, code_class(code), "feishu: code %ld: %.200s", code, msg);
  }
  cJSON_Delete(root);
}

/* The config section (config.lua checks each key by its kind). */
static const nh_platform_key feishu_keys[] = {
  { "webhook_url", "http_url", NH_KEY_REQUIRED | NH_KEY_VALUE, NULL, NULL },
  { "secret", "string", NH_KEY_SECRET, NULL, NULL },
  { "keywords", "strings", 0, NULL, NULL },
  { "mentions", "strings", NH_KEY_OPTION, NULL, NULL },
  { "overflow", "choice", 0, "truncate,split,error", NULL },
  { NULL, NULL, 0, NULL, NULL },
};

/* Retried: no answer, a timeout, HTTP 429 or the platform's "too fast", 408, 5xx. */
static const nh_platform_desc feishu_desc = {
  .name = "feishu",
  .keys = feishu_keys,
  .value = NH_VALUE_URL,
  .rate = { .per_second = 5, .per_minute = 100 },
  .transient = NH_TRANSIENT_HTTP,
};

const nh_platform nh_platform_feishu = {
  .name = "feishu",
  .desc = &feishu_desc,
  .build = feishu_build,
  .render = feishu_render,
  .limit = feishu_limit,
  .check = feishu_check,
  .classify = feishu_classify,
};
