/*
 * nh_email.c: e-mail over SMTP through libcurl. The target's url is
 * smtp://host:port or smtps://host:port; its options hold from, to, cc, bcc,
 * username and tls ("starttls", "implicit", "none"); its secret is the
 * password. The message is written here as RFC 5322 text: From, To, Cc (Bcc
 * only in the envelope), an RFC 2047 encoded Subject, Date, a unique
 * Message-ID, and a MIME body: text/plain, or multipart/alternative with a
 * text and an HTML part for html and markdown (the text of html is the HTML
 * as plain text; markdown's HTML is cmark's), inside multipart/mixed when
 * platform_data.email.attachments has files. Parts are base64 encoded.
 * A CR or LF in any header value is refused, never sent.
 */
#include <ctype.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nh_internal.h"

#define LINE 76

static int has_crlf(const char *s) { return s && strpbrk(s, "\r\n") != NULL; }

/* Base64 in lines of 76 characters, CRLF-terminated. */
static void put_base64(nh_buf *b, const unsigned char *data, size_t n) {
  unsigned char out[LINE / 4 * 4 + 4];
  for (size_t i = 0; i < n; i += LINE / 4 * 3) {
    size_t chunk = n - i < LINE / 4 * 3 ? n - i : LINE / 4 * 3;
    int len = EVP_EncodeBlock(out, data + i, (int)chunk);
    nh_buf_add(b, (const char *)out, (size_t)len);
    nh_buf_puts(b, "\r\n");
  }
}

static int is_ascii(const char *s) {
  for (; s && *s; s++)
    if ((unsigned char)*s >= 0x80) return 0;
  return 1;
}

/* RFC 2047: non-ASCII text as =?UTF-8?B?...?= words, cut on characters. */
static void put_encoded_words(nh_buf *b, const char *s) {
  if (is_ascii(s)) {
    nh_buf_puts(b, s);
    return;
  }
  size_t n = strlen(s);
  unsigned char out[64];
  for (size_t i = 0; i < n;) {
    size_t take = nh_utf8_prefix(s + i, n - i, 42, 0);   /* 42 bytes -> 56 base64 */
    if (take == 0) take = n - i < 42 ? n - i : 42;       /* not UTF-8: cut anywhere */
    int len = EVP_EncodeBlock(out, (const unsigned char *)s + i, (int)take);
    nh_buf_puts(b, i ? "\r\n =?UTF-8?B?" : "=?UTF-8?B?");
    nh_buf_add(b, (const char *)out, (size_t)len);
    nh_buf_puts(b, "?=");
    i += take;
  }
}

static void put_date(nh_buf *b) {
  static const char *const days[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
  static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
  time_t now = time(NULL);
  struct tm tm;
  gmtime_r(&now, &tm);
  char date[64];
  snprintf(date, sizeof date, "Date: %s, %02d %s %04d %02d:%02d:%02d +0000\r\n", days[tm.tm_wday],
           tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
  nh_buf_puts(b, date);
}

/* "Name: a, b" from an array of addresses; nothing when empty. */
static void put_address_list(nh_buf *b, const char *name, cJSON *list) {
  cJSON *a;
  int n = 0;
  cJSON_ArrayForEach(a, list) {
    if (!cJSON_IsString(a)) continue;
    nh_buf_puts(b, n++ ? ", " : name);
    nh_buf_puts(b, a->valuestring);
  }
  if (n) nh_buf_puts(b, "\r\n");
}

static const char *domain_of(const char *address) {
  const char *at = address ? strrchr(address, '@') : NULL;
  return at ? at + 1 : "notifyhub.invalid";
}

/* Message-ID: <id@domain>, the id's bytes that RFC 5322 allows in an
 * atom as they are and any other as =XX, so that two ids never share one
 * Message-ID and nothing in an id can end the header. */
static void put_message_id(nh_buf *b, const char *id, const char *from) {
  static const char atext[] = "!#$%&'*+-/?^_`{|}~";   /* '.' too, as =2E: no empty atom */
  nh_buf_puts(b, "Message-ID: <");
  for (const unsigned char *p = (const unsigned char *)id; *p; p++) {
    char c[4];
    int plain = (*p < 0x80 && isalnum(*p)) || (*p && strchr(atext, *p));
    snprintf(c, sizeof c, plain ? "%c" : "=%02X", *p);
    nh_buf_puts(b, c);
  }
  nh_buf_puts(b, "@");
  nh_buf_puts(b, domain_of(from));
  nh_buf_puts(b, ">\r\n");
}

/* The MIME boundary: "=_" cannot occur in base64, which every part is. */
static void make_boundary(char *out, size_t len, const char *id) {
  uint64_t h = 1469598103934665603ULL;                  /* FNV-1a of the id */
  for (const unsigned char *p = (const unsigned char *)id; *p; p++) h = (h ^ *p) * 1099511628211ULL;
  snprintf(out, len, "=_nh_%016llx", (unsigned long long)h);
}

static void put_part(nh_buf *b, const char *type, const char *text) {
  nh_buf_puts(b, "Content-Type: ");
  nh_buf_puts(b, type);
  nh_buf_puts(b, "; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n");
  put_base64(b, (const unsigned char *)text, strlen(text));
}

static char *html_of(const nh_message *m) {
  nh_buf h = { 0 };
  nh_buf_puts(&h, "<!DOCTYPE html><html><body>");
  if (m->title) {
    nh_buf_puts(&h, "<h2>");
    nh_buf_escape_html(&h, m->title);
    nh_buf_puts(&h, "</h2>");
  }
  if (nh_format_is(m, "html")) {
    nh_buf_puts(&h, m->body ? m->body : "");
  } else {
    char *md = nh_markdown_html(m->body);               /* cmark, safe mode */
    nh_buf_puts(&h, md ? md : "");
    free(md);
  }
  nh_buf_puts(&h, "</body></html>");
  return nh_buf_take(&h);
}

static void put_body(nh_buf *b, const nh_message *m, const char *boundary) {
  char *text = nh_body_text(m);                         /* html: its text, links as "text (url)" */
  if (!nh_format_is(m, "html") && !nh_format_is(m, "markdown")) {
    put_part(b, "text/plain", text ? text : "");
    free(text);
    return;
  }
  char *html = html_of(m);
  nh_buf_puts(b, "Content-Type: multipart/alternative; boundary=\"");
  nh_buf_puts(b, boundary);
  nh_buf_puts(b, "_a\"\r\n\r\n--");
  nh_buf_puts(b, boundary);
  nh_buf_puts(b, "_a\r\n");
  put_part(b, "text/plain", text ? text : "");
  nh_buf_puts(b, "--");
  nh_buf_puts(b, boundary);
  nh_buf_puts(b, "_a\r\n");
  put_part(b, "text/html", html ? html : "");
  nh_buf_puts(b, "--");
  nh_buf_puts(b, boundary);
  nh_buf_puts(b, "_a--\r\n");
  free(text);
  free(html);
}

/* An attachment from `content` (a string) or `path` (read now). */
static int put_attachment(nh_buf *b, cJSON *a, char *err, size_t errlen) {
  cJSON *name = cJSON_GetObjectItemCaseSensitive(a, "filename");
  cJSON *type = cJSON_GetObjectItemCaseSensitive(a, "content_type");
  cJSON *content = cJSON_GetObjectItemCaseSensitive(a, "content");
  cJSON *path = cJSON_GetObjectItemCaseSensitive(a, "path");
  if (!cJSON_IsString(name) || has_crlf(name->valuestring) || strchr(name->valuestring, '"')) {
    snprintf(err, errlen, "email: an attachment needs a filename without CR, LF or quotes");
    return -1;
  }
  nh_buf data = { 0 };
  if (cJSON_IsString(content)) {
    nh_buf_puts(&data, content->valuestring);
  } else if (cJSON_IsString(path)) {
    FILE *f = fopen(path->valuestring, "rb");
    char chunk[8192];
    size_t n;
    if (!f) {
      snprintf(err, errlen, "email: cannot read attachment '%.100s'", name->valuestring);
      return -1;
    }
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) nh_buf_add(&data, chunk, n);
    fclose(f);
  }
  nh_buf_puts(b, "Content-Type: ");
  nh_buf_puts(b, cJSON_IsString(type) && !has_crlf(type->valuestring) ? type->valuestring
                                                                       : "application/octet-stream");
  nh_buf_puts(b, "\r\nContent-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename=\"");
  put_encoded_words(b, name->valuestring);
  nh_buf_puts(b, "\"\r\n\r\n");
  put_base64(b, (const unsigned char *)(data.data ? data.data : ""), data.len);
  free(data.data);
  return 0;
}

/* boundary + "_a" separates the alternatives, boundary + "_m" the parts
 * of a mail with attachments: neither is a prefix of the other (RFC 2046). */
static int put_mime(nh_buf *b, const nh_message *m, const char *boundary, char *err, size_t errlen) {
  cJSON *files = nh_platform_data(m, "email", "attachments"), *a;
  nh_buf_puts(b, "MIME-Version: 1.0\r\n");
  if (cJSON_GetArraySize(files) == 0) {
    put_body(b, m, boundary);
    return 0;
  }
  char mixed[64];
  snprintf(mixed, sizeof mixed, "%s_m", boundary);
  nh_buf_puts(b, "Content-Type: multipart/mixed; boundary=\"");
  nh_buf_puts(b, mixed);
  nh_buf_puts(b, "\"\r\n\r\n--");
  nh_buf_puts(b, mixed);
  nh_buf_puts(b, "\r\n");
  put_body(b, m, boundary);
  cJSON_ArrayForEach(a, files) {
    nh_buf_puts(b, "--");
    nh_buf_puts(b, mixed);
    nh_buf_puts(b, "\r\n");
    if (put_attachment(b, a, err, errlen)) return -1;
  }
  nh_buf_puts(b, "--");
  nh_buf_puts(b, mixed);
  nh_buf_puts(b, "--\r\n");
  return 0;
}

static int add_rcpts(nh_request *req, cJSON *list) {
  cJSON *a;
  cJSON_ArrayForEach(a, list) {
    if (!cJSON_IsString(a)) continue;
    struct curl_slist *l = curl_slist_append(req->rcpt, a->valuestring);
    if (!l) return -1;
    req->rcpt = l;
  }
  return 0;
}

static int headers_safe(const nh_message *m, const nh_target *t) {
  const char *lists[] = { "to", "cc", "bcc" };
  cJSON *a;
  if (has_crlf(m->title) || has_crlf(nh_opt_string(t, "from")) || has_crlf(m->id)) return 0;
  for (int i = 0; i < 3; i++)
    cJSON_ArrayForEach(a, nh_opt_item(t, lists[i])) if (has_crlf(cJSON_GetStringValue(a))) return 0;
  return 1;
}

static nh_code email_build(const nh_message *m, const nh_target *t, nh_request *req,
                           char *err, size_t errlen) {
  const char *from = nh_opt_string(t, "from"), *tls = nh_opt_string(t, "tls");
  if (!from || !headers_safe(m, t)) {
    snprintf(err, errlen, "email: %s", from ? "CR or LF in a header value" : "no from address");
    return NH_INVALID_MESSAGE;
  }
  char boundary[40];
  make_boundary(boundary, sizeof boundary, m->id);
  nh_buf b = { 0 };
  nh_buf_puts(&b, "From: ");
  nh_buf_puts(&b, from);
  nh_buf_puts(&b, "\r\n");
  put_address_list(&b, "To: ", nh_opt_item(t, "to"));
  put_address_list(&b, "Cc: ", nh_opt_item(t, "cc"));
  nh_buf_puts(&b, "Subject: ");
  put_encoded_words(&b, m->title ? m->title : "(no subject)");
  nh_buf_puts(&b, "\r\n");
  put_date(&b);
  put_message_id(&b, m->id, from);
  if (put_mime(&b, m, boundary, err, errlen)) {
    free(nh_buf_take(&b));
    return NH_INVALID_MESSAGE;
  }
  req->smtp = 1;
  req->body_len = b.len;
  req->body = nh_buf_take(&b);
  req->url = nh_strdup(t->url);
  req->mail_from = nh_sprintf("<%s>", from);
  req->username = nh_opt_string(t, "username");
  req->password = t->secret;
  req->use_ssl = tls && strcmp(tls, "none") == 0 ? CURLUSESSL_NONE : CURLUSESSL_ALL;
  const char *lists[] = { "to", "cc", "bcc" };
  for (int i = 0; i < 3; i++)
    if (add_rcpts(req, nh_opt_item(t, lists[i]))) req->rcpt = NULL;
  if (!req->body || !req->url || !req->mail_from || !req->rcpt) {
    snprintf(err, errlen, "email: could not build the message (no recipients, or out of memory)");
    return NH_INVALID_MESSAGE;
  }
  return NH_OK;
}

static void email_classify(const nh_target *t, const nh_answer *a, nh_result *r) {
  (void)t;
  (void)a;
  nh_result_set(r, NH_OK, NULL);               /* libcurl saw 250 to the data */
}

const nh_platform nh_platform_email = {
  .name = "email",
  .build = email_build,
  .classify = email_classify,
};
