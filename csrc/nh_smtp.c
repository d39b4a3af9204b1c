/*
 * nh_smtp.c: what an SMTP server said during one transfer, and what that
 * means for the target's result.
 *
 * libcurl's error buffer only says "RCPT failed: 550"; the server's own
 * words ("550 5.1.1 <a@example.com>: User unknown") come through the debug
 * callback: CURLINFO_HEADER_OUT is each command sent, CURLINFO_HEADER_IN
 * each reply line. Only the replies are kept (never a command: AUTH lines
 * carry the password), each line cut free of the target's secrets first,
 * then cleaned of control and 8-bit bytes and capped.
 *
 * With several recipients, a refused one does not stop the others
 * (CURLOPT_MAIL_RCPT_ALLOWFAILS); each refused RCPT is remembered with its
 * reply, and the result names them. A 4xx reply is transient (retried), a
 * 5xx permanent; the reply's code is the result's platform_code.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "nh_internal.h"

#define REPLY_MAX 300     /* bytes of a reply kept */
#define DETAIL_MAX 900    /* bytes naming refused recipients in the error */
#define MAX_RCPT_ADDR 320 /* bytes of an address kept (RFC 5321 allows 256) */

typedef struct nh_smtp_log {
  char reply[REPLY_MAX]; /* the reply being read, or the last one */
  int code;              /* its code; 0: none yet */
  int complete;          /* its last line has come */
  char fail[REPLY_MAX];  /* the last reply of 400 or more */
  int fail_code;
  char rcpt[MAX_RCPT_ADDR]; /* the RCPT waiting for its reply; "" when none */
  int quit;                 /* QUIT was sent: its 221 is no verdict */
  int rcpts, refused, refused_5xx;
  nh_buf rejected;      /* "address\n" per refused recipient */
  nh_buf detail;        /* "address (reply), ..." */
  char *const *secrets; /* the target's: cut out of each line as it comes */
  size_t n_secrets;
} nh_smtp_log;

/* Appends n bytes of a server line: control and 8-bit bytes as '?'. */
static void clean_append(char *dst, size_t cap, const char *src, size_t n) {
  size_t len = strlen(dst);
  for (size_t i = 0; i < n && len + 1 < cap; i++) {
    unsigned char c = (unsigned char)src[i];
    dst[len++] = c < 0x20 || c >= 0x7f ? '?' : (char)c;
  }
  dst[len] = '\0';
}

static void note_refused(nh_smtp_log *s) {
  s->refused++;
  if (s->code >= 500) s->refused_5xx++;
  nh_buf_puts(&s->rejected, s->rcpt);
  nh_buf_puts(&s->rejected, "\n");
  if (s->detail.len < DETAIL_MAX) {
    char item[REPLY_MAX + MAX_RCPT_ADDR + 8];
    snprintf(item, sizeof item, "%s%s (%s)", s->detail.len ? ", " : "", s->rcpt, s->reply);
    nh_buf_puts(&s->detail, item);
  }
}

/* A reply's last line has the code and a blank ("250 ok"), the lines
 * before it a dash ("250-SIZE"); they are joined, the code written once. */
static void reply_text(nh_smtp_log *s, const char *data, size_t n) {
  while (n > 0 && (data[n - 1] == '\r' || data[n - 1] == '\n')) n--;
  if (n < 3 || s->quit) return;
  int last = !(n > 3 && data[3] == '-');
  if (s->complete) {
    s->reply[0] = '\0';
    s->complete = 0;
    clean_append(s->reply, sizeof s->reply, data, n);
  } else if (n > 4) {
    clean_append(s->reply, sizeof s->reply, " ", 1);
    clean_append(s->reply, sizeof s->reply, data + 4, n - 4);
  }
  if (!last) return;
  s->complete = 1;
  s->code = atoi(s->reply);
  if (s->code >= 400) {
    memcpy(s->fail, s->reply, sizeof s->fail);
    s->fail_code = s->code;
  }
  if (s->rcpt[0]) {
    s->rcpts++;
    if (s->code >= 400) note_refused(s);
    s->rcpt[0] = '\0';
  }
}

/* A reply line loses the target's secrets (a server may echo the login)
 * before anything else: capping or cleaning it first would leave a piece
 * of a secret, or a changed one, that no longer matches. */
static void reply_line(nh_smtp_log *s, const char *data, size_t n) {
  char *line = malloc(n + 1);
  if (!line) return; /* a line not kept, never one unredacted */
  memcpy(line, data, n);
  line[n] = '\0';
  reply_text(s, line, nh_redact(line, n, s->secrets, s->n_secrets));
  free(line);
}

/* Only which recipient a RCPT names is kept from what is sent. */
static void command_sent(nh_smtp_log *s, const char *data, size_t n) {
  s->rcpt[0] = '\0';
  s->complete = 1; /* the next line starts a reply */
  s->quit = n >= 4 && strncasecmp(data, "QUIT", 4) == 0;
  if (n < 9 || strncasecmp(data, "RCPT TO:<", 9) != 0) return;
  const char *end = memchr(data + 9, '>', n - 9);
  size_t len = end ? (size_t)(end - (data + 9)) : 0;
  if (len >= sizeof s->rcpt) len = sizeof s->rcpt - 1;
  clean_append(s->rcpt, sizeof s->rcpt, data + 9, len);
  if (!s->rcpt[0]) clean_append(s->rcpt, sizeof s->rcpt, "?", 1);
}

static int on_debug(CURL *e, curl_infotype type, char *data, size_t n, void *ud) {
  (void)e;
  if (type == CURLINFO_HEADER_OUT) command_sent(ud, data, n);
  else if (type == CURLINFO_HEADER_IN) reply_line(ud, data, n);
  return 0;
}

void nh_smtp_watch(nh_transfer *t, CURL *e) {
  t->smtp = calloc(1, sizeof *t->smtp);
  if (t->smtp) {
    const nh_target *target = &t->job->msg.targets[t->index];
    t->smtp->secrets = target->secrets;
    t->smtp->n_secrets = target->n_secrets;
    t->smtp->complete = 1;
    curl_easy_setopt(e, CURLOPT_DEBUGFUNCTION, on_debug);
    curl_easy_setopt(e, CURLOPT_DEBUGDATA, t->smtp);
    curl_easy_setopt(e, CURLOPT_VERBOSE, 1L); /* the callback only runs when verbose */
  }
  /* 7.69 to 8.1 spell it with three L; the number is the same. */
#if LIBCURL_VERSION_NUM >= 0x080200
  curl_easy_setopt(e, CURLOPT_MAIL_RCPT_ALLOWFAILS, 1L);
#elif LIBCURL_VERSION_NUM >= 0x074500
  curl_easy_setopt(e, CURLOPT_MAIL_RCPT_ALLLOWFAILS, 1L);
#endif
}

void nh_smtp_free(nh_transfer *t) {
  if (!t->smtp) return;
  free(t->smtp->rejected.data);
  free(t->smtp->detail.data);
  free(t->smtp);
  t->smtp = NULL;
}

static void set_code(nh_result *r, int code) {
  r->has_platform_code = code > 0;
  r->platform_code = code;
}

/* Some recipients refused, the others got the message: not a success, and
 * never retried (the others would get it twice). */
static void record_partial(nh_smtp_log *s, nh_result *r) {
  r->partial = 1;
  nh_result_set(r, NH_PLATFORM_REJECTED,
                "email: %d of %d recipients refused, the others got the message: %s", s->refused,
                s->rcpts, s->detail.data ? s->detail.data : "");
  set_code(r, s->fail_code);
}

/* What to change when tls does not match the server: libcurl only says
 * "STARTTLS not supported." or OpenSSL's "wrong version number". */
static const char *tls_mode_hint(const nh_transfer *t, CURLcode rc, int fail_code) {
  int implicit = t->req.url && strncmp(t->req.url, "smtps:", 6) == 0;
  if (rc == CURLE_USE_SSL_FAILED)
    return " (the server does not offer STARTTLS: set tls = 'implicit' for a port that speaks"
           " TLS at once, such as 465, or tls = 'none')";
  if (implicit && rc == CURLE_SSL_CONNECT_ERROR)
    return " (with tls = 'implicit' the server must speak TLS at once: for a port that starts"
           " in plain text, such as 587 or 25, set tls = 'starttls')";
  if (fail_code == 530 && !t->req.username)
    return " (the server requires a login: set username and password)";
  return "";
}

/* Without TLS, a server that wants STARTTLS first answers 530 (RFC 3207)
 * or 538, or refuses the login: libcurl only says "Login denied". */
static const char *starttls_hint(const nh_transfer *t, CURLcode rc, int fail_code) {
  if (t->req.use_ssl != CURLUSESSL_NONE) return tls_mode_hint(t, rc, fail_code);
  if (!t->req.url || strncmp(t->req.url, "smtp:", 5) != 0) return tls_mode_hint(t, rc, fail_code);
  if (rc != CURLE_LOGIN_DENIED && fail_code != 530 && fail_code != 538) return "";
  if (!t->req.username)
    return " (the server may require STARTTLS or a login: set tls = 'starttls'"
           " and username, password)";
  return " (the server may require STARTTLS before login: set tls = 'starttls')";
}

static void record_failure(nh_transfer *t, CURLcode rc, nh_code code, nh_result *r) {
  nh_smtp_log *s = t->smtp;
  const char *text = t->errbuf[0] ? t->errbuf : curl_easy_strerror(rc);
  const char *hint = starttls_hint(t, rc, s ? s->fail_code : 0);
  int refused_all = s && s->refused > 0 && s->refused == s->rcpts;
  int server_said = s && s->fail_code && (s->code >= 400 || refused_all);
  if (!server_said && rc != CURLE_LOGIN_DENIED) {
    nh_result_set(r, code, "email: %s%s", text, hint);
    return;
  }
  if (refused_all) {
    nh_result_set(r, NH_PLATFORM_REJECTED, "email: every recipient refused: %s", s->detail.data);
    r->transient = s->refused_5xx == 0;
  } else {
    nh_result_set(r, NH_PLATFORM_REJECTED, "email: %s%s", s && s->fail_code ? s->fail : text, hint);
    r->transient = s && s->fail_code >= 400 && s->fail_code < 500;
  }
  if (s && s->fail_code) {
    set_code(r, s->fail_code);
    r->http_status = s->fail_code;
  }
}

void nh_smtp_record(nh_transfer *t, CURLcode rc, nh_code code, nh_result *r) {
  nh_smtp_log *s = t->smtp;
  free(r->rejected);
  r->rejected = NULL;
  r->partial = r->transient = 0;
  set_code(r, 0);
  if (s && s->refused) r->rejected = nh_strndup(s->rejected.data, s->rejected.len);
  if (s && s->reply[0]) {
    r->response = nh_strdup(s->reply);
    r->response_len = r->response ? strlen(r->response) : 0;
  }
  if (rc != CURLE_OK) record_failure(t, rc, code, r);
  else if (s && s->refused) record_partial(s, r);
  else {
    nh_result_set(r, NH_OK, NULL);
    if (s) set_code(r, s->code);
  }
}
