/*
 * nh_matrix.c: Matrix, the client-server API: PUT <homeserver>/_matrix/
 * client/v3/rooms/<room>/send/m.room.message/<txnId> with `Authorization:
 * Bearer <access_token>` and {msgtype, body, format:
 * "org.matrix.custom.html", formatted_body}. body is plain text (the title
 * on the first line; markdown as written, html as text); formatted_body is
 * the HTML: markdown through cmark (no raw HTML, no javascript: links),
 * html as given, text escaped, the title in <strong>. The txnId is the
 * message id (a part's number added when split): the homeserver answers a
 * repeated transaction with the event it already made, so a message sent
 * again is not posted twice. Answers: 200 {"event_id"}; errors
 * {"errcode","error"}; 429 M_LIMIT_EXCEEDED with retry_after_ms.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nh_internal.h"

/* An event is at most 65,536 bytes: both texts, with room for the JSON. */
#define MATRIX_MAX_TEXT 60000

/* The plain-text body. */
static char *matrix_plain(const nh_message *m) { return nh_title_body(m, "\n"); }

/* formatted_body, or NULL when plain text says it all. */
static char *matrix_html(const nh_message *m) {
  if (!m->title && !nh_format_is(m, "markdown") && !nh_format_is(m, "html")) return NULL;
  nh_buf b = { 0 };
  if (m->title) {
    nh_buf_puts(&b, "<strong>");
    nh_buf_escape_html(&b, m->title);
    nh_buf_puts(&b, m->body && *m->body ? "</strong><br>" : "</strong>");
  }
  if (nh_format_is(m, "markdown")) {
    char *html = nh_markdown_html(m->body ? m->body : "");
    nh_buf_puts(&b, html ? html : "");
    free(html);
  } else if (nh_format_is(m, "html")) {
    nh_buf_puts(&b, m->body ? m->body : "");
  } else {
    for (const char *s = m->body; s && *s; s++) {
      const char one[2] = { *s, 0 };
      if (*s == '\n') nh_buf_puts(&b, "<br>");
      else nh_buf_escape_html(&b, one);
    }
  }
  return nh_buf_take(&b);
}

static char *matrix_render(const nh_message *m, const nh_target *t, int *in_chars) {
  (void)t;
  *in_chars = 0;
  char *plain = matrix_plain(m), *html = matrix_html(m);
  char *both = plain ? nh_sprintf("%s\n%s", plain, html ? html : "") : NULL;
  free(plain);
  free(html);
  return both;
}

static size_t matrix_limit(const nh_message *m, const nh_target *t) {
  (void)m;
  (void)t;
  return MATRIX_MAX_TEXT;
}

/* <homeserver>/_matrix/client/v3/rooms/<room>/send/m.room.message/<txnId> */
static char *matrix_url(const nh_message *m, const nh_target *t) {
  const char *room = nh_opt_string(t, "room_id");
  char *txn =
    t->n_parts > 1 ? nh_sprintf("%s-%d", m->id, nh_part_index(m, t) + 1) : nh_strdup(m->id);
  char *room_enc = nh_url_encode(room ? room : ""), *txn_enc = txn ? nh_url_encode(txn) : NULL;
  size_t len = strlen(t->url);
  while (len > 0 && t->url[len - 1] == '/') len--;
  char *url = room_enc && txn_enc
                ? nh_sprintf("%.*s/_matrix/client/v3/rooms/%s/send/m.room.message/%s", (int)len,
                             t->url, room_enc, txn_enc)
                : NULL;
  free(txn);
  free(room_enc);
  free(txn_enc);
  return url;
}

static nh_code matrix_build(const nh_message *m, const nh_target *t, nh_request *req, char *err,
                            size_t errlen) {
  char *plain = matrix_plain(m), *html = matrix_html(m);
  const char *msgtype = nh_opt_string(t, "msgtype");
  cJSON *root = cJSON_CreateObject();
  cJSON_AddStringToObject(root, "msgtype", msgtype ? msgtype : "m.text");
  cJSON_AddStringToObject(root, "body", plain ? plain : "");
  if (html) {
    cJSON_AddStringToObject(root, "format", "org.matrix.custom.html");
    cJSON_AddStringToObject(root, "formatted_body", html);
  }
  free(plain);
  free(html);
  nh_code rc = nh_request_json(req, t, matrix_url(m, t), root, err, errlen);
  if (rc != NH_OK) return rc;
  req->method = "PUT";
  return nh_request_auth(req, "Bearer", nh_opt_string(t, "access_token"), "access_token", err,
                         errlen);
}

static void matrix_classify(const nh_target *t, const nh_answer *a, nh_result *r) {
  (void)t;
  cJSON *root = cJSON_ParseWithLength(a->body, a->body_len);
  cJSON *event = cJSON_GetObjectItemCaseSensitive(root, "event_id");
  cJSON *errcode = cJSON_GetObjectItemCaseSensitive(root, "errcode");
  cJSON *error = cJSON_GetObjectItemCaseSensitive(root, "error");
  cJSON *retry = cJSON_GetObjectItemCaseSensitive(root, "retry_after_ms");
  nh_classify_http(a, r);
  if (r->success && cJSON_IsString(event)) {
    cJSON_Delete(root);
    return;
  }
  if (r->success) r->code = NH_PLATFORM_REJECTED; /* a 2xx without an event */
  if (cJSON_IsNumber(retry) && retry->valuedouble > 0) r->retry_after = retry->valuedouble / 1000.0;
  nh_result_set(r, r->code, "matrix: HTTP %ld: %.40s%s%.200s", a->http_status,
                cJSON_IsString(errcode) ? errcode->valuestring : "(no errcode)",
                cJSON_IsString(error) ? ": " : "", cJSON_IsString(error) ? error->valuestring : "");
  cJSON_Delete(root);
}

/* The config section (config.lua checks each key by its kind). */
static const nh_platform_key matrix_keys[] = {
  { "access_token", "header_value", NH_KEY_REQUIRED | NH_KEY_SECRET | NH_KEY_OPTION, NULL, NULL },
  { "homeserver", "http_url", NH_KEY_REQUIRED | NH_KEY_VALUE, NULL, NULL },
  { "room_id", "string", NH_KEY_REQUIRED | NH_KEY_OPTION, NULL, NULL }, /* in the path, encoded */
  { "msgtype", "choice", NH_KEY_OPTION, "m.text,m.notice", NULL },
  { "overflow", "choice", 0, "truncate,split,error", NULL },
  { NULL, NULL, 0, NULL, NULL },
};

/* Retried: no answer, a timeout, HTTP 429 (M_LIMIT_EXCEEDED, its
 * retry_after_ms followed), 408, 5xx. Each homeserver sets its own limits:
 * none by default. */
static const nh_platform_desc matrix_desc = {
  .name = "matrix",
  .keys = matrix_keys,
  .value = NH_VALUE_URL,
  .rate = { 0 },
  .transient = NH_TRANSIENT_HTTP,
};

const nh_platform nh_platform_matrix = {
  .name = "matrix",
  .desc = &matrix_desc,
  .build = matrix_build,
  .render = matrix_render,
  .limit = matrix_limit,
  .classify = matrix_classify,
};
