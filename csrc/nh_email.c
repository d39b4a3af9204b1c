/*
 * nh_email.c: e-mail over SMTP through libcurl. The target's url is
 * smtp://host:port or smtps://host:port; its options hold from, to, cc, bcc,
 * username and tls ("starttls", "implicit", "none"); its secret is the
 * password. The message is written here as RFC 5322 text: From, To, Cc (Bcc
 * only in the envelope), an RFC 2047 encoded Subject, Date, a unique
 * Message-ID, and a MIME body: text/plain, or multipart/alternative with a
 * text and an HTML part for html and markdown (the text of html is the HTML
 * as plain text; markdown's HTML is cmark's), inside multipart/mixed when
 * the message has attachments (nh_attach.c reads them). Parts are base64
 * encoded. A CR or LF in any header value is refused, never sent. Header
 * lines are folded to stay short (RFC 5322 2.2.3: 78 wanted, 998 at most);
 * a subject or display name that cannot be folded at its spaces, or that is
 * not ASCII, goes out as RFC 2047 encoded-words of at most 75 characters.
 * from may be "Display Name <address>".
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

/* RFC 2047: text as =?UTF-8?B?...?= words of at most 75 characters, cut
 * on characters, one per line. */
static void put_words(nh_buf *b, const char *s) {
  size_t n = strlen(s);
  unsigned char out[64];
  for (size_t i = 0; i < n;) {
    size_t take = nh_utf8_prefix(s + i, n - i, 42, 0); /* 42 bytes -> 56 base64 */
    if (take == 0) take = n - i < 42 ? n - i : 42;     /* not UTF-8: cut anywhere */
    int len = EVP_EncodeBlock(out, (const unsigned char *)s + i, (int)take);
    nh_buf_puts(b, i ? "\r\n =?UTF-8?B?" : "=?UTF-8?B?");
    nh_buf_add(b, (const char *)out, (size_t)len);
    nh_buf_puts(b, "?=");
    i += take;
  }
}

/* Non-ASCII text as encoded-words, ASCII as it is. */
static void put_encoded_words(nh_buf *b, const char *s) {
  if (is_ascii(s)) nh_buf_puts(b, s);
  else put_words(b, s);
}

/* Characters since the last line break: where a header line stands. */
static size_t column(const nh_buf *b) {
  size_t i = b->len;
  while (i > 0 && b->data[i - 1] != '\n') i--;
  return b->len - i;
}

#define FOLD_AT 78
#define LONGEST_WORD 900 /* a word longer than this cannot be folded under 998 */

/* Plain ASCII that folding at spaces keeps as it is: no "=?" (which a
 * reader would take for an encoded-word), no controls, and no run of
 * blanks and the word after them too long to fit on one line. */
static int foldable(const char *s) {
  if (!is_ascii(s) || strstr(s, "=?")) return 0;
  while (*s) {
    size_t n = strspn(s, " ");
    n += strcspn(s + n, " ");
    for (size_t i = 0; i < n; i++)
      if ((unsigned char)s[i] < 0x20 && s[i] != '\t') return 0;
    if (n > LONGEST_WORD) return 0;
    s += n;
  }
  return 1;
}

/* Unstructured text (a subject): folded before the space that starts a
 * word when the line would pass 78 characters; unfolding (taking out the
 * CRLF) gives back the text as it was. */
static void put_unstructured(nh_buf *b, const char *s) {
  if (!foldable(s)) {
    put_words(b, s);
    return;
  }
  while (*s) {
    size_t n = strspn(s, " ");
    n += strcspn(s + n, " ");
    if (s[0] == ' ' && column(b) + n > FOLD_AT && column(b) > 1) nh_buf_puts(b, "\r\n");
    nh_buf_add(b, s, n);
    s += n;
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
    if (n++ == 0) nh_buf_puts(b, name);
    else nh_buf_puts(b, column(b) + 2 + strlen(a->valuestring) > FOLD_AT ? ",\r\n " : ", ");
    nh_buf_puts(b, a->valuestring);
  }
  if (n) nh_buf_puts(b, "\r\n");
}

#define MAX_ADDRESS 254 /* RFC 5321 4.5.3.1.3, less the brackets */

/* An address we write as it is: local@domain, no blanks, brackets, quotes
 * or controls, and short enough for any line. */
static int address_ok(const char *a) {
  if (!a || !*a || strlen(a) > MAX_ADDRESS || !strchr(a, '@')) return 0;
  for (; *a; a++)
    if ((unsigned char)*a <= 0x20 || *a == 0x7f || strchr("<>\",;\\", *a)) return 0;
  return 1;
}

/* A quoted-string's content as text: each \\x is x. */
static void unquote(char *s) {
  char *out = s;
  for (; *s; s++) {
    if (*s == '\\' && s[1]) s++;
    *out++ = *s;
  }
  *out = '\0';
}

/* from as "Display Name <address>" or "address": the address (malloc'd;
 * NULL when from has neither shape) and the name, without the quotes a
 * user may have put around it (malloc'd; NULL when there is none). */
static char *split_mailbox(const char *from, char **name) {
  *name = NULL;
  const char *lt = from ? strrchr(from, '<') : NULL;
  size_t len = from ? strlen(from) : 0;
  if (!lt) return address_ok(from) ? nh_strdup(from) : NULL;
  if (len < 2 || from[len - 1] != '>') return NULL;
  char *addr = nh_strndup(lt + 1, (size_t)(from + len - 1 - (lt + 1)));
  if (!address_ok(addr)) {
    free(addr);
    return NULL;
  }
  const char *p = from, *e = lt;
  while (p < e && (*p == ' ' || *p == '\t')) p++;
  while (e > p && (e[-1] == ' ' || e[-1] == '\t')) e--;
  int quoted = e - p >= 2 && *p == '"' && e[-1] == '"';
  if (quoted) p++, e--;
  if (e > p) *name = nh_strndup(p, (size_t)(e - p));
  if (quoted && *name) unquote(*name);
  return addr;
}

static int is_atext_phrase(const char *s) {
  static const char atext[] = "!#$%&'*+-/=?^_`{|}~ ";
  for (; *s; s++)
    if (!isalnum((unsigned char)*s) && !strchr(atext, *s)) return 0;
  return 1;
}

/* A display name: atoms as they are, other ASCII as a quoted-string,
 * anything else (non-ASCII, controls, "=?", very long) as encoded-words. */
static void put_display_name(nh_buf *b, const char *name) {
  int plain = is_ascii(name) && !strstr(name, "=?") && strlen(name) <= 200;
  for (const char *p = name; plain && *p; p++)
    if ((unsigned char)*p < 0x20 || *p == 0x7f) plain = 0;
  if (!plain) {
    put_words(b, name);
  } else if (is_atext_phrase(name)) {
    nh_buf_puts(b, name);
  } else {
    static const char *const with[] = { "\\\"", "\\\\" };
    nh_buf_puts(b, "\"");
    nh_buf_escape(b, name, "\"\\", with);
    nh_buf_puts(b, "\"");
  }
}

static void put_from(nh_buf *b, const char *name, const char *addr) {
  nh_buf_puts(b, "From: ");
  if (name) {
    put_display_name(b, name);
    nh_buf_puts(b, " <");
    nh_buf_puts(b, addr);
    nh_buf_puts(b, ">\r\n");
  } else {
    nh_buf_puts(b, addr);
    nh_buf_puts(b, "\r\n");
  }
}

static const char *domain_of(const char *address) {
  const char *at = address ? strrchr(address, '@') : NULL;
  return at ? at + 1 : "notifyhub.invalid";
}

/* Message-ID: <id@domain>, the id's bytes that RFC 5322 allows in an
 * atom as they are and any other as =XX, so that two ids never share one
 * Message-ID and nothing in an id can end the header. */
static void put_message_id(nh_buf *b, const char *id, const char *from) {
  static const char atext[] = "!#$%&'*+-/?^_`{|}~"; /* '.' too, as =2E: no empty atom */
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
  uint64_t h = 1469598103934665603ULL; /* FNV-1a of the id */
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
    char *md = nh_markdown_html(m->body); /* cmark, safe mode */
    nh_buf_puts(&h, md ? md : "");
    free(md);
  }
  nh_buf_puts(&h, "</body></html>");
  return nh_buf_take(&h);
}

static void put_body(nh_buf *b, const nh_message *m, const char *boundary) {
  char *text = nh_body_text(m); /* html: its text, links as "text (url)" */
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

/* One attachment's part; its bytes come from nh_attach_load. */
static nh_code put_attachment(nh_buf *b, const nh_message *m, const nh_target *t,
                              const nh_attachment *a, size_t *total, char *err, size_t errlen) {
  nh_buf data = { 0 };
  nh_code rc = nh_attach_load(m, t, a, total, &data, err, errlen);
  if (rc != NH_OK) {
    free(data.data);
    return rc;
  }
  nh_buf_puts(b, "Content-Type: ");
  nh_buf_puts(b, a->content_type ? a->content_type : "application/octet-stream");
  nh_buf_puts(
    b, "\r\nContent-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename=\"");
  put_encoded_words(b, a->filename);
  nh_buf_puts(b, "\"\r\n\r\n");
  put_base64(b, (const unsigned char *)(data.data ? data.data : ""), data.len);
  free(data.data);
  return NH_OK;
}

/* boundary + "_a" separates the alternatives, boundary + "_m" the parts
 * of a mail with attachments: neither is a prefix of the other (RFC 2046). */
static nh_code put_mime(nh_buf *b, const nh_message *m, const nh_target *t, const char *boundary,
                        char *err, size_t errlen) {
  nh_buf_puts(b, "MIME-Version: 1.0\r\n");
  if (m->n_attachments == 0) {
    put_body(b, m, boundary);
    return NH_OK;
  }
  char mixed[64];
  size_t total = 0;
  snprintf(mixed, sizeof mixed, "%s_m", boundary);
  nh_buf_puts(b, "Content-Type: multipart/mixed; boundary=\"");
  nh_buf_puts(b, mixed);
  nh_buf_puts(b, "\"\r\n\r\n--");
  nh_buf_puts(b, mixed);
  nh_buf_puts(b, "\r\n");
  put_body(b, m, boundary);
  for (size_t i = 0; i < m->n_attachments; i++) {
    nh_buf_puts(b, "--");
    nh_buf_puts(b, mixed);
    nh_buf_puts(b, "\r\n");
    nh_code rc = put_attachment(b, m, t, &m->attachments[i], &total, err, errlen);
    if (rc != NH_OK) return rc;
  }
  nh_buf_puts(b, "--");
  nh_buf_puts(b, mixed);
  nh_buf_puts(b, "--\r\n");
  return b->failed ? NH_NO_MEMORY : NH_OK;
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

/* No CR or LF in any header value, and every address one we can write. */
static int headers_safe(const nh_message *m, const nh_target *t) {
  const char *lists[] = { "to", "cc", "bcc" };
  cJSON *a;
  if (has_crlf(m->title) || has_crlf(nh_opt_string(t, "from")) || has_crlf(m->id)) return 0;
  for (int i = 0; i < 3; i++) cJSON_ArrayForEach(a, nh_opt_item(t, lists[i])) {
      if (has_crlf(cJSON_GetStringValue(a))) return 0;
      if (cJSON_IsString(a) && !address_ok(a->valuestring)) return 0;
    }
  return 1;
}

/* What can be known before sending: headers, the from mailbox, attachments. */
static nh_code email_check(const nh_message *m, const nh_target *t, char *err, size_t errlen) {
  char *name = NULL, *addr = split_mailbox(nh_opt_string(t, "from"), &name);
  int ok = addr && headers_safe(m, t);
  free(addr);
  free(name);
  if (!ok) {
    snprintf(err, errlen, "email: %s",
             !nh_opt_string(t, "from") ? "no from address"
                                       : "CR or LF in a header value, or an address that is not "
                                         "local@domain (or \"Name <local@domain>\" for from)");
    return NH_INVALID_MESSAGE;
  }
  return nh_attach_check(m, t, err, errlen);
}

/* The envelope: credentials, TLS and recipients. */
static nh_code set_envelope(nh_request *req, const nh_target *t, const char *addr) {
  const char *tls = nh_opt_string(t, "tls");
  req->smtp = 1;
  req->url = nh_strdup(t->url);
  req->mail_from = nh_sprintf("<%s>", addr);
  req->username = nh_opt_string(t, "username");
  req->password = t->secret;
  req->use_ssl = tls && strcmp(tls, "none") == 0 ? CURLUSESSL_NONE : CURLUSESSL_ALL;
  const char *lists[] = { "to", "cc", "bcc" };
  for (int i = 0; i < 3; i++)
    if (add_rcpts(req, nh_opt_item(t, lists[i]))) req->rcpt = NULL;
  return req->url && req->mail_from && req->rcpt ? NH_OK : NH_INVALID_MESSAGE;
}

static nh_code email_build(const nh_message *m, const nh_target *t, nh_request *req, char *err,
                           size_t errlen) {
  char *name = NULL, *addr = NULL;
  nh_code rc = email_check(m, t, err, errlen); /* attachments: names and types */
  if (rc == NH_OK) addr = split_mailbox(nh_opt_string(t, "from"), &name);
  if (rc != NH_OK || !addr) {
    free(name);
    return rc != NH_OK ? rc : NH_NO_MEMORY;
  }
  char boundary[40];
  make_boundary(boundary, sizeof boundary, m->id);
  nh_buf b = { 0 };
  put_from(&b, name, addr);
  put_address_list(&b, "To: ", nh_opt_item(t, "to"));
  put_address_list(&b, "Cc: ", nh_opt_item(t, "cc"));
  nh_buf_puts(&b, "Subject: ");
  put_unstructured(&b, m->title ? m->title : "(no subject)");
  nh_buf_puts(&b, "\r\n");
  put_date(&b);
  put_message_id(&b, m->id, addr);
  rc = put_mime(&b, m, t, boundary, err, errlen);
  if (rc == NH_OK) rc = set_envelope(req, t, addr);
  size_t len = b.len;
  char *body = nh_buf_take(&b);
  if (rc == NH_OK && !body) rc = NH_NO_MEMORY;
  if (rc == NH_OK) {
    req->body = body;
    req->body_len = len;
  } else {
    free(body);
  }
  free(name);
  free(addr);
  if (rc != NH_OK && !err[0])
    snprintf(err, errlen, "email: could not build the message (no recipients, or out of memory)");
  return rc;
}

static void email_classify(const nh_target *t, const nh_answer *a, nh_result *r) {
  (void)t;
  (void)a;
  nh_result_set(r, NH_OK, NULL); /* nh_smtp.c decides; not reached */
}

/* The config section (config.lua checks each key by its kind). */
static const nh_platform_key email_keys[] = {
  { "host", "hostname", NH_KEY_REQUIRED, NULL, NULL },
  { "port", "port", 0, NULL, NULL },
  { "tls", "choice", NH_KEY_OPTION, "starttls,implicit,none", "starttls" },
  { "username", "string", NH_KEY_OPTION | NH_KEY_SECRET, NULL, NULL },
  { "password", "string", NH_KEY_SECRET, NULL, NULL },
  { "from", "mailbox", NH_KEY_REQUIRED | NH_KEY_OPTION, NULL, NULL },
  { "to", "addresses", NH_KEY_VALUE, NULL, NULL },
  { "cc", "addresses", 0, NULL, NULL },
  { "bcc", "addresses", 0, NULL, NULL },
  { "attachments_dir", "string", NH_KEY_OPTION | NH_KEY_CLIENT, NULL, NULL },
  { "attachments_max_bytes", "attachment_bytes", NH_KEY_OPTION | NH_KEY_CLIENT, NULL, NULL },
  { NULL, NULL, 0, NULL, NULL },
};

/* Retried: no answer, a timeout, a 4xx reply ("try later"); a 5xx reply
 * or a login refused is final. */
static const nh_platform_desc email_desc = {
  .name = "email",
  .keys = email_keys,
  .value = NH_VALUE_ADDRESS,
  .rate = { 0 },
  .transient = NH_FAIL_BIT(NETWORK) | NH_FAIL_BIT(TIMEOUT) | NH_FAIL_BIT(REPLY_4XX),
};

const nh_platform nh_platform_email = {
  .name = "email",
  .desc = &email_desc,
  .build = email_build,
  .check = email_check,
  .classify = email_classify,
};
