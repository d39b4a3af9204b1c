/*
 * nh_transfer.c: one HTTP or SMTP request of one target of a job: building
 * it through the platform, handing it to the worker's multi handle, reading
 * the answer (up to max_response) and turning what came back into the
 * target's result. Easy handles are kept per worker for reuse.
 */
#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nh_internal.h"

#define RESPONSE_KEPT 512 /* bytes of an answer a receipt keeps */

static size_t on_body(char *data, size_t size, size_t n, void *ud) {
  nh_transfer *t = ud;
  size_t len = size * n, limit = t->w->client->opt.max_response;
  if (t->len + len > limit) {
    t->too_big = 1;
    return 0; /* aborts with CURLE_WRITE_ERROR */
  }
  if (t->len + len + 1 > t->cap) {
    size_t cap = t->cap ? t->cap * 2 : 1024;
    while (cap < t->len + len + 1) cap *= 2;
    char *p = realloc(t->buf, cap);
    if (!p) return 0;
    t->buf = p;
    t->cap = cap;
  }
  memcpy(t->buf + t->len, data, len);
  t->len += len;
  t->buf[t->len] = '\0';
  return len;
}

/* A new or reset handle gets the client's transfer options. */
static void setup_easy(nh_client *c, CURL *e) {
  const nh_options *o = &c->opt;
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
#if LIBCURL_VERSION_NUM >= 0x075700
  /* Do not wait for a stuck DNS lookup when a transfer is removed (close). */
  curl_easy_setopt(e, CURLOPT_QUICK_EXIT, 1L);
#endif
  curl_easy_setopt(e, CURLOPT_SHARE, c->share);
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  /* Redirects are followed by nh_transfer_follow (same origin only): libcurl
   * would carry custom headers to another host and turn a POST into a GET. */
  curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, o->timeout_ms);
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, o->connect_timeout_ms);
  curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, o->verify_tls ? 1L : 0L);
  curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, o->verify_tls ? 2L : 0L);
  if (c->ca_file) curl_easy_setopt(e, CURLOPT_CAINFO, c->ca_file);
  if (c->proxy) curl_easy_setopt(e, CURLOPT_PROXY, c->proxy);
  curl_easy_setopt(e, CURLOPT_USERAGENT, c->user_agent);
}

/* Spare handles keep the client's options: a plain POST leaves nothing
 * behind that the next transfer does not set again, so only handles used
 * for SMTP or another method are reset. */
static CURL *get_easy(nh_worker *w) {
  if (w->n_spare) return w->spare[--w->n_spare];
  CURL *easy = curl_easy_init();
  if (easy) setup_easy(w->client, easy);
  return easy;
}

static void put_easy(nh_worker *w, CURL *easy, const nh_request *req) {
  if (w->n_spare >= w->capacity || !w->spare) {
    curl_easy_cleanup(easy);
    return;
  }
  if (req->smtp || (req->method && strcmp(req->method, "POST") != 0)) {
    curl_easy_reset(easy);
    setup_easy(w->client, easy);
  }
  w->spare[w->n_spare++] = easy;
}

static nh_code map_curl_error(CURLcode rc) {
  switch (rc) {
  case CURLE_OPERATION_TIMEDOUT: return NH_TIMEOUT;
  case CURLE_SSL_CONNECT_ERROR:
  case CURLE_PEER_FAILED_VERIFICATION:
  case CURLE_SSL_CERTPROBLEM:
  case CURLE_SSL_CIPHER:
  case CURLE_SSL_CACERT_BADFILE:
  case CURLE_SSL_ISSUER_ERROR:
  case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
  case CURLE_SSL_INVALIDCERTSTATUS:
  case CURLE_USE_SSL_FAILED: return NH_TLS;
  default: return NH_NETWORK;
  }
}

/* ---- redirects ---------------------------------------------------------- */

static int is_redirect(long status) {
  return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

/* Scheme, host and port of url ("http", "example.com", "80"), lowercase
 * scheme and host; 0 when it does not parse. */
static int origin_of(const char *url, char *out, size_t len) {
  CURLU *u = curl_url();
  char *scheme = NULL, *host = NULL, *port = NULL;
  int ok = u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
           curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
           curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
           curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK;
  if (ok) {
    snprintf(out, len, "%s://%s:%s", scheme, host, port);
    for (char *p = out; *p; p++)
      if (*p >= 'A' && *p <= 'Z') *p = (char)(*p - 'A' + 'a');
  }
  curl_free(scheme);
  curl_free(host);
  curl_free(port);
  curl_url_cleanup(u);
  return ok;
}

const char *nh_url_problem(const char *url) {
  CURLU *u = curl_url();
  if (!u) return NULL; /* out of memory: let the send say so */
  CURLUcode rc = curl_url_set(u, CURLUPART_URL, url, 0);
  curl_url_cleanup(u);
  return rc == CURLUE_OK ? NULL : curl_url_strerror(rc);
}

/* The redirect the answer asks for, when the client follows redirects: its
 * Location (absolute), or NULL. */
static const char *wanted_redirect(nh_transfer *t, CURLcode rc) {
  long status = 0;
  char *location = NULL;
  if (rc != CURLE_OK || t->req.smtp || t->w->client->opt.follow_redirects <= 0) return NULL;
  curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
  if (!is_redirect(status)) return NULL;
  curl_easy_getinfo(t->easy, CURLINFO_REDIRECT_URL, &location);
  return location;
}

static int same_origin(nh_transfer *t, const char *location) {
  char *here = NULL, a[512], b[512];
  curl_easy_getinfo(t->easy, CURLINFO_EFFECTIVE_URL, &here);
  return here && origin_of(here, a, sizeof a) && origin_of(location, b, sizeof b) &&
         strcmp(a, b) == 0;
}

/* What is left of http.timeout (and of the message's deadline) for the
 * next hop, in ms; 0: no limit. */
static long hop_limit(nh_transfer *t) {
  long timeout = t->w->client->opt.timeout_ms, limit = timeout;
  double now = nh_now();
  if (timeout > 0) limit = timeout - (long)((now - t->started) * 1000.0);
  if (t->job->deadline > 0) {
    long left = (long)((t->job->deadline - now) * 1000.0) + 1;
    if (timeout == 0 || left < limit) limit = left;
  } else if (timeout == 0) {
    return 0;
  }
  return limit > 1 ? limit : 1;
}

int nh_transfer_follow(nh_transfer *t, CURLcode rc) {
  const char *location = wanted_redirect(t, rc);
  if (!location || t->hops >= t->w->client->opt.follow_redirects || !same_origin(t, location))
    return 0;
  char *next = nh_strdup(location); /* location lives in the handle */
  if (!next) return 0;
  CURL *e = t->easy;
  curl_multi_remove_handle(t->w->multi, e);
  t->len = 0;
  t->errbuf[0] = '\0';
  t->hops++;
  curl_easy_setopt(e, CURLOPT_URL, next); /* method, body and headers stay */
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, hop_limit(t));
  free(next);
  curl_multi_add_handle(t->w->multi, e);
  return 1;
}

/* A redirect the client would follow but did not: a failure that says why
 * (the Location is not shown: it may hold a token). */
static void redirect_refused(nh_transfer *t, nh_result *r, const char *name) {
  const char *location = wanted_redirect(t, CURLE_OK);
  int too_many = t->hops >= t->w->client->opt.follow_redirects && same_origin(t, location);
  nh_result_set(r, NH_HTTP_STATUS, "%s: HTTP %ld: redirect not followed (%s)", name, r->http_status,
                too_many ? "too many redirects" : "to another origin");
}

void nh_transfer_record(nh_transfer *t, CURLcode rc) {
  nh_job *job = t->job;
  nh_result *r = &job->results[t->index];
  const nh_target *target = &job->msg.targets[t->index];
  curl_off_t us = 0;
  curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &r->http_status);
  curl_easy_getinfo(t->easy, CURLINFO_TOTAL_TIME_T, &us);
  r->duration_ms = (double)us / 1000.0;
  r->attempts++;
  curl_off_t retry_after = 0;
  curl_easy_getinfo(t->easy, CURLINFO_RETRY_AFTER, &retry_after);
  r->retry_after = (double)retry_after;
  free(r->response);
  r->response = NULL;
  if (t->req.smtp) {
    nh_smtp_record(t, rc, map_curl_error(rc), r);
    return;
  }
  if (rc == CURLE_OK) {
    /* Services that echo the request (path, headers) would hand its secrets
     * to the classifier's error texts: the answer loses them first. */
    if (t->buf) t->len = nh_redact(t->buf, t->len, target->secrets, target->n_secrets);
    if (t->buf) t->len = nh_redact(t->buf, t->len, t->w->client->secrets, t->w->client->n_secrets);
    nh_answer a = { r->http_status, t->buf ? t->buf : "", t->len };
    nh_platform_get(target->platform)->classify(target, &a, r);
    r->retry_after = nh_delay_clamp(r->retry_after, NH_MAX_DELAY); /* a hostile hint */
    if (wanted_redirect(t, rc)) redirect_refused(t, r, nh_platform_name(target->platform));
    /* A platform may keep a cleaned copy (WeCom hides the caller's IP). */
    if (!r->response) {
      r->response_len = a.body_len < RESPONSE_KEPT ? a.body_len : RESPONSE_KEPT;
      r->response = nh_strndup(a.body, r->response_len);
    } else {
      r->response_len = strlen(r->response);
    }
  } else if (t->too_big) {
    nh_result_set(r, NH_NETWORK, "%s: the answer is larger than %zu bytes",
                  nh_platform_name(target->platform), t->w->client->opt.max_response);
  } else {
    /* libcurl's messages name host and port at most, never the path. */
    nh_code code = map_curl_error(rc);
    nh_result_set(r, code, "%s: %s", nh_platform_name(target->platform),
                  t->errbuf[0] ? t->errbuf : curl_easy_strerror(rc));
  }
}

static size_t on_upload(char *out, size_t size, size_t n, void *ud) {
  nh_transfer *t = ud;
  size_t left = t->req.body_len - t->sent, room = size * n;
  size_t len = left < room ? left : room;
  memcpy(out, t->req.body + t->sent, len);
  t->sent += len;
  return len;
}

static void setup_smtp(nh_transfer *t, CURL *e) {
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
  curl_easy_setopt(e, CURLOPT_MAIL_FROM, t->req.mail_from);
  curl_easy_setopt(e, CURLOPT_MAIL_RCPT, t->req.rcpt);
  curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
  curl_easy_setopt(e, CURLOPT_READFUNCTION, on_upload);
  curl_easy_setopt(e, CURLOPT_READDATA, t);
  curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, (curl_off_t)t->req.body_len);
  curl_easy_setopt(e, CURLOPT_USE_SSL, (long)t->req.use_ssl);
  if (t->req.username) curl_easy_setopt(e, CURLOPT_USERNAME, t->req.username);
  if (t->req.password) curl_easy_setopt(e, CURLOPT_PASSWORD, t->req.password);
  nh_smtp_watch(t, e);
}

static void setup_http(nh_transfer *t, CURL *e) {
  if (t->req.method && strcmp(t->req.method, "POST") != 0)
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, t->req.method);
  curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)t->req.body_len);
  curl_easy_setopt(e, CURLOPT_POSTFIELDS, t->req.body ? t->req.body : "");
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, t->req.headers);
}

/* The transfer's limit in ms: http.timeout, or what is left of the
 * message's time when less, rounded up so that the transfer outlives the
 * deadline by under a millisecond. 0 when the deadline has passed. */
static long transfer_limit(nh_client *c, const nh_job *job, int *cut) {
  long limit = c->opt.timeout_ms;
  *cut = 0;
  if (job->deadline <= 0) return limit;
  double left = (job->deadline - nh_now()) * 1000.0; /* compared before any cast */
  if (!(left > 0)) return 0;
  if (left < (double)limit) {
    limit = (long)ceil(left);
    *cut = 1;
  }
  return limit < 1 ? 1 : limit;
}

/* Builds part `part` of target i and hands it to the worker's multi
 * handle; the transfer's time limit is http.timeout, or less when the
 * message's deadline comes first. NULL with the result set on failure. */
nh_transfer *nh_transfer_start(nh_worker *w, nh_job *job, size_t i, size_t part) {
  const nh_target *target = &job->msg.targets[i];
  nh_result *r = &job->results[i];
  nh_transfer *t = calloc(1, sizeof *t);
  char err[256] = "";
  if (!t) {
    nh_result_set(r, NH_NO_MEMORY, "out of memory");
    return NULL;
  }
  t->w = w;
  t->job = job;
  t->index = i;
  t->part = part;
  t->started = nh_now();
  nh_message msg = job->msg;
  if (target->n_parts) msg.body = target->parts[part];
  msg.deadline = job->deadline; /* e-mail reads attachments before it */
  nh_code rc = nh_platform_get(target->platform)->build(&msg, target, &t->req, err, sizeof err);
  if (rc == NH_OK && !(t->easy = get_easy(w))) rc = NH_NO_MEMORY;
  if (rc != NH_OK) {
    nh_result_set(r, rc, "%s", err[0] ? err : nh_code_text(rc));
    nh_request_free(&t->req);
    free(t);
    return NULL;
  }
  long limit = transfer_limit(w->client, job, &t->cut_to_deadline);
  if (limit <= 0) {
    /* The deadline passed while the request was built: nothing goes out
     * (a limit of 0 would mean none to libcurl). */
    nh_result_set(r, NH_TIMEOUT, "the message's deadline passed");
    put_easy(w, t->easy, &t->req);
    nh_request_free(&t->req);
    free(t);
    return NULL;
  }
  CURL *e = t->easy;
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, limit);
  curl_easy_setopt(e, CURLOPT_URL, t->req.url);
  if (t->req.smtp) setup_smtp(t, e);
  else setup_http(t, e);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, t);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->errbuf);
  curl_easy_setopt(e, CURLOPT_PRIVATE, t);
  curl_multi_add_handle(w->multi, e);
  return t;
}

/* Takes the transfer off the multi handle and frees it. */
void nh_transfer_free(nh_transfer *t) {
  nh_worker *w = t->w;
  curl_multi_remove_handle(w->multi, t->easy);
  put_easy(w, t->easy, &t->req);
  nh_smtp_free(t);
  nh_request_free(&t->req);
  free(t->buf);
  free(t);
}
