/*
 * nh_core.h: the Lua-free core of notifyhub, as the binding (and any C
 * program) sees it.
 *
 * A client owns a bounded submission queue, a pool of worker threads that
 * drive libcurl multi handles, and a completion queue that the owner thread
 * drains. Jobs are plain C records: everything a worker needs is copied into
 * the job at submit time, so no worker ever looks at caller memory (or Lua).
 *
 * Ownership: nh_job_new() gives the caller a job; nh_client_submit() takes it
 * over when it returns NH_OK. Finished jobs come back through
 * nh_client_take(); the caller frees them with nh_job_release().
 *
 * Threads. Each function below says who may call it:
 *   [owner]  the client's owner thread: one thread at a time, the one that
 *            made the client or any thread that takes the owner's part
 *            under a lock of the caller's (a Lua state is one such owner;
 *            tests/stress_core.c's "owner lock" is another). These calls
 *            touch state no lock guards (the submit sequence, the purge
 *            count, the closed flag, the waker's listener) or run a job on
 *            the calling thread (async.enabled = 0).
 *   [any]    any thread, at any time while the client lives (after
 *            nh_client_new() returned, before nh_client_free() began),
 *            concurrently with the owner and with each other.
 *   [job]    any thread, on a job it holds a reference to; a job's fields
 *            are the caller's to write before it is submitted and to read
 *            once nh_client_take() returned it (workers own it between).
 *   [pure]   any thread: no shared state.
 * The core's worker threads make none of these calls but their own
 * (nh_internal.h says, per *_locked function, which lock it needs).
 */
#ifndef NH_CORE_H
#define NH_CORE_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "nh_errors.h"
#include "nh_options.h"
#include "nh_platforms.h"

enum { NH_LOG_DEBUG, NH_LOG_INFO, NH_LOG_WARN, NH_LOG_ERROR, NH_LOG_OFF };

enum { NH_PRIORITY_LOW, NH_PRIORITY_NORMAL, NH_PRIORITY_HIGH, NH_PRIORITY_URGENT };

/* What to do with a message over a platform's size limit. */
enum { NH_OVERFLOW_TRUNCATE, NH_OVERFLOW_SPLIT, NH_OVERFLOW_ERROR };

/* Where a job is; readable from any thread with nh_job_state(). */
enum { NH_JOB_NEW, NH_JOB_QUEUED, NH_JOB_SENDING, NH_JOB_DONE };

/* How a job's end is decided, once: open until cancel() wins (the job ends
 * CANCELLED) or the core seals it as it finishes (cancel() answers 0). */
enum { NH_FATE_OPEN, NH_FATE_CANCELLED, NH_FATE_SEALED };

/* Retries with exponential backoff and full jitter (seconds): the rows of
 * NH_RETRY_OPTIONS (nh_options.h). */
typedef struct nh_retry {
  NH_RETRY_OPTIONS(NH_OPT_MEMBER, )
} nh_retry;

/* At most `count` requests in any `per` seconds, per destination. */
typedef struct nh_rate_rule {
  int count;
  double per;
} nh_rate_rule;

#define NH_MAX_RATE_RULES 3

/* The client's options: the rows of nh_options.h, each commented there. */
typedef struct nh_options {
  NH_CLIENT_OPTIONS(NH_OPT_MEMBER, )
  nh_retry retry;      /* the default of a message that gives none */
  int failures_stderr; /* not a user key: no log handler, so a failure the
                          full log buffer cannot keep goes to stderr */
} nh_options;

/* One destination of a message, fully resolved by the caller. */
typedef struct nh_target {
  nh_platform_id platform;
  char *url;      /* the real URL: may hold a token, never shown */
  char *label;    /* what receipts and logs show instead */
  char *secret;   /* signing secret or NULL */
  char *method;   /* HTTP method; NULL means POST */
  char **headers; /* "Name: value" lines */
  size_t n_headers;
  char **keywords; /* Feishu: one of them must be in the text */
  size_t n_keywords;
  cJSON *options; /* platform options (chat_id, username, ...) or NULL */
  char *rate_key; /* the destination the rate rules count; NULL: url */
  nh_rate_rule rate[NH_MAX_RATE_RULES];
  int n_rate;   /* 0: not limited */
  int overflow; /* NH_OVERFLOW_* */
  char **parts; /* bodies of a split or cut message; NULL: msg body */
  size_t n_parts;
  char **secrets; /* values cut out of every text about this target */
  size_t n_secrets;
  int planned; /* nh_target_plan() ran and succeeded */
} nh_target;

/* The outcome of one target. */
typedef struct nh_result {
  int success;
  nh_code code;
  char *error;      /* NULL on success */
  long http_status; /* 0 when no answer came */
  int has_platform_code;
  long platform_code;
  int attempts;
  int parts_sent;     /* of a split message, how many went out */
  double retry_after; /* seconds the platform asked to wait; 0: none */
  double duration_ms;
  char *response;      /* the start of the answer's body, capped */
  size_t response_len; /* its bytes (it may hold NUL bytes) */
  int transient;       /* SMTP: a 4xx reply, "try later" (nh_platform_transient decides) */
  int partial;         /* SMTP: some recipients got it, `rejected` did not */
  char *rejected;      /* SMTP: refused recipients, one per line; NULL: none */
} nh_result;

typedef struct nh_job nh_job;

/* An e-mail attachment: bytes given at submit, or a file the worker reads
 * (a regular file, within attachments_dir and attachments_max_bytes). */
typedef struct nh_attachment {
  char *filename;
  char *content_type; /* NULL: application/octet-stream */
  char *content;      /* NULL when path is set; may hold NUL bytes */
  size_t content_len;
  char *path; /* NULL when content is set */
} nh_attachment;

typedef struct nh_message {
  char *id;
  char *title;  /* NULL when absent */
  char *body;   /* NULL when absent */
  char *format; /* "text", "markdown", "html" */
  int priority;
  cJSON *metadata;      /* NULL or an object, owned by the job */
  cJSON *platform_data; /* NULL or an object, owned by the job */
  nh_target *targets;
  size_t n_targets;
  nh_attachment *attachments; /* e-mail only */
  size_t n_attachments;
  double deadline; /* a copy of the job's, for platforms that read files */
  /* Planning on a worker: nonzero from stop(stop_arg) gives it up between
   * parts (cancel, deadline, close). NULL: never. */
  int (*stop)(const void *stop_arg);
  const void *stop_arg;
} nh_message;

struct nh_job {
  uint64_t seq; /* the client's number for this job, from 1 */
  nh_message msg;
  nh_result *results;  /* one per target, filled by the worker */
  nh_code code;        /* NH_OK, or why the job as a whole ended */
  double submitted_at; /* nh_now() */
  nh_retry retry;
  double timeout; /* seconds from submit; 0: none */
  /* runtime, owned by the core */
  double deadline;     /* nh_now() based; 0: none */
  int state;           /* NH_JOB_*, atomic */
  int refs;            /* atomic: the core's and the caller's */
  int detached;        /* atomic: nobody will take the completion */
  int fate;            /* atomic NH_FATE_*: who decided how the job ends */
  int failure_logged;  /* its failure record is in the log buffer */
  size_t targets_left; /* worker-private */
  int active, waiting; /* worker-private: transfers and timers */
  void *worker;        /* under queue.lock: the worker that took it */
  nh_job *next, *prev; /* queue links */
  int heap_index;      /* in the queue's deadline heap; -1: not there */
  int in_queue;        /* under queue.lock: in the submission queue now */
  double enqueued_at;
};

typedef struct nh_stats {
  uint64_t submitted, succeeded, failed, closed, dropped;
  uint64_t retried, cancelled, timed_out;
  size_t queued, in_flight, waiting, completed_unread;
  int workers, min_workers, max_workers;
  uint64_t threads_created;
  uint64_t log_dropped;
  size_t rate_destinations; /* destinations the rate limits track (idle ones go lazily) */
} nh_stats;

typedef struct nh_log_record {
  int level;
  int worker_id;    /* 0: the owner thread */
  char *message_id; /* NULL when not about one message */
  int attempt;      /* 0 when not about one attempt */
  char *text;
  struct nh_log_record *next;
} nh_log_record;

typedef struct nh_client nh_client;

/* Error names and texts (nh_util.c). [pure] */
const char *nh_code_name(nh_code code);
const char *nh_code_text(nh_code code);
const char *nh_platform_name(nh_platform_id id);
int nh_platform_from_name(const char *name); /* -1 when unknown */

/* libcurl's version string. [pure] */
const char *nh_curl_version(void);

/* Latency of finished targets of one platform, submit to result, in ms. */
typedef struct nh_latency {
  uint64_t count;
  double p50, p90, p99;
} nh_latency;

/* Monotonic seconds, for deadlines. [pure] */
double nh_now(void);

/* Jobs (nh_job.c). [pure] new; [job] the rest: release and detach are
 * atomic, state is an atomic read; nh_result_set and nh_job_succeeded on
 * a job no worker holds (before submit, or taken back). */
nh_job *nh_job_new(size_t n_targets);
void nh_job_release(nh_job *job); /* drops one reference */
int nh_job_state(const nh_job *job);
void nh_job_detach(nh_job *job); /* the caller will not take it */
void nh_result_set(nh_result *r, nh_code code, const char *fmt, ...);
int nh_job_succeeded(const nh_job *job); /* every target succeeded */

/* Secrets (nh_redact.c), [pure] on strings the caller holds: in place, every occurrence of one of
 * the secrets (those of at least NH_REDACT_MIN bytes) becomes "***"; returns the new length. The
 * _string and _result forms use the target's own list. */
#define NH_REDACT_MIN 4
size_t nh_redact(char *s, size_t len, char *const *secrets, size_t count);
void nh_redact_string(char *s, const nh_target *t);
void nh_redact_result(nh_result *r, const nh_target *t);
/* The user info of a proxy URL in the forms it may come back in (user,
 * password, "user:password" decoded and as written, its base64 as in
 * Proxy-Authorization: Basic); NULL with *n = 0 when it has none. Free
 * with nh_redact_free. */
char **nh_redact_proxy_secrets(const char *proxy, size_t *n);
void nh_redact_free(char **secrets, size_t n);

/* Fits the message into the target's platform limit by its overflow rule:
 * fills t->parts when the body must be cut or split; NH_INVALID_MESSAGE when
 * it cannot be sent (overflow = error) or its id is not 1 to
 * NH_MAX_ID_LEN printable ASCII characters without spaces (an id goes
 * into headers: webhook-id, Message-ID). [pure] on a message the caller
 * holds, as are the three functions after it. */
#define NH_MAX_ID_LEN 128
nh_code nh_target_plan(const nh_message *m, nh_target *t, char *err, size_t errlen);
/* Planning a large body takes time (it is linear in the body), so a title
 * and body over NH_PLAN_SYNC_MAX bytes together are planned by the worker
 * that takes the job, before its first transfer, not by nh_client_submit()
 * on the caller's thread: a message it refuses (overflow = error, a platform check) then
 * ends its target with INVALID_MESSAGE in the job's completion. Smaller
 * bodies are planned by nh_client_submit() when the caller did not plan
 * them, and refused there. nh_message_plan_now() says which case m is. */
#define NH_PLAN_SYNC_MAX (64 * 1024)
int nh_message_plan_now(const nh_message *m);
/* 1 when id is 1 to NH_MAX_ID_LEN printable ASCII characters, no spaces;
 * nh_client_submit() refuses a job whose id is not. */
int nh_message_id_ok(const char *id);

/* Why libcurl would refuse url (a bad port, IPv6 address or host), in
 * words that do not repeat it; NULL when it parses. */
const char *nh_url_problem(const char *url);

/* Clients (nh_client.c). */
/* [pure] */
void nh_options_default(nh_options *opt);
/* [any] The options the client was made with (user_agent, ca_file, proxy: NULL). */
const nh_options *nh_client_options(const nh_client *c);
/* [any]: the calling thread becomes the client's owner. */
nh_client *nh_client_new(const nh_options *opt, char *err, size_t errlen);
/* [owner] On NH_OK the client owns the job and holds a second reference
 * for the caller; on failure the caller keeps the job and err says why
 * (NH_NO_MEMORY: the queue had no memory for it; nothing was accepted). A
 * message the caller did not plan is planned here (nh_target_plan; a large
 * one by its worker): a C caller cannot skip splitting or the checks. */
nh_code nh_client_submit(nh_client *c, nh_job *job, double queue_timeout, char *err, size_t errlen);
/* [owner] All of them or none: waits up to queue_timeout for room for
 * every job. */
nh_code nh_client_submit_many(nh_client *c, nh_job **jobs, size_t n, double queue_timeout,
                              char *err, size_t errlen);
/* [any] 1 when the job had not finished and will end CANCELLED (targets
 * already delivered stay delivered), 0 when its end was already decided.
 * The answer and the job's final code always agree. The caller holds a
 * reference to the job. */
int nh_client_cancel(nh_client *c, nh_job *job);
/* [any] */
void nh_client_latency(nh_client *c, nh_platform_id p, nh_latency *out);
/* [owner] Moves up to max finished jobs into out; never blocks. */
size_t nh_client_take(nh_client *c, nh_job **out, size_t max);
/* [any] Waits up to timeout seconds (negative: no limit) until a completion
 * is ready; returns 1 when one is, 0 on timeout. */
int nh_client_wait(nh_client *c, double timeout);
/* [any] */
int nh_client_fd(nh_client *c);
/* The waker (nh_waker.c), for event loops that can only connect to a socket
 * by path (nginx cosockets). [owner] listen writes a fresh unix socket
 * path; after the owner connected to it, accept takes that connection and
 * removes the path; arm returns 1 when nothing is ready and the next
 * completion will write one byte to the connection (sleep on it), 0 when
 * records are ready (poll instead). [any] wake writes a byte now. -1 on
 * failure (forked, closed, no room). */
int nh_client_waker_listen(nh_client *c, char *path, size_t len);
int nh_client_waker_accept(nh_client *c);
int nh_client_waker_arm(nh_client *c);
void nh_client_wake(nh_client *c);
/* [any] Jobs submitted whose completion the caller has not taken yet. */
size_t nh_client_pending(nh_client *c);
/* [any] */
void nh_client_stats(nh_client *c, nh_stats *s);
/* [any] Takes the buffered records; nh_log_free() frees them ([pure]). */
nh_log_record *nh_client_logs(nh_client *c);
void nh_log_free(nh_log_record *r);
/* [owner] Stops accepting, lets work finish until the deadline, completes
 * the rest with NH_CLOSED, joins every thread. Returns how many jobs it cut
 * off. Safe to call twice. */
size_t nh_client_close(nh_client *c, double timeout);
/* [owner] */
int nh_client_closed(nh_client *c);
/* [any] 1 in a child of fork(): the client's threads and locks are not
 * there, so every call but free does nothing (submit answers NH_CLOSED). */
int nh_client_forked(const nh_client *c);
/* [owner], the last call: no other thread may be in a call on c. Closes
 * first if needed. */
void nh_client_free(nh_client *c);
/* [any] A fresh message id: unique across threads and processes. */
void nh_client_new_id(nh_client *c, char *buf, size_t len);

#endif
