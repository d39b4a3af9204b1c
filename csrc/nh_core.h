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
/* What a message reports (message.type), for the platforms that show it:
 * a colour, a priority, a severity. NONE: not given (each platform's plain
 * look, as before types existed). */
enum { NH_TYPE_NONE, NH_TYPE_INFO, NH_TYPE_SUCCESS, NH_TYPE_WARNING, NH_TYPE_FAILURE };

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

/* The spool's options (spool.path, ...): the rows of NH_SPOOL_OPTIONS. */
typedef struct nh_spool_options {
  NH_SPOOL_OPTIONS(NH_OPT_MEMBER, )
} nh_spool_options;

/* The client's options: the rows of nh_options.h, each commented there. */
typedef struct nh_options {
  NH_CLIENT_OPTIONS(NH_OPT_MEMBER, )
  nh_retry retry;         /* the default of a message that gives none */
  nh_spool_options spool; /* spool.path NULL: no spool (memory only) */
  int failures_stderr;    /* not a user key: no log handler, so a failure the
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
  int type;             /* NH_TYPE_*; NH_TYPE_NONE when not given */
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
  uint64_t seq;      /* the client's number for this job, from 1 */
  int64_t spool_seq; /* its record in the client's spool; 0: none */
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

  /* a spooled job taken over (nh_spool_job_resume) or waiting in the spool */
  struct nh_resume *resume; /* per target, what a takeover resumes; NULL: none */
  int parked;               /* worker-private: 1 its record waits in the spool, 2 lost it */
  int adopted;              /* taken from the spool: another client (or none) accepted it */
  int remote;               /* atomic: another client delivers it; it waits for the receipt */
};

typedef struct nh_stats {
  uint64_t submitted, succeeded, failed, closed, dropped;
  uint64_t retried, cancelled, timed_out;
  size_t queued, in_flight, waiting, completed_unread;
  int workers, min_workers, max_workers;
  uint64_t threads_created;
  uint64_t log_dropped;
  size_t rate_destinations; /* destinations the rate limits track (idle ones go lazily) */
  uint64_t handed_over;     /* ended HANDED_OVER: close() gave them back to the spool */
  size_t remote;            /* accepted, waiting for another client's receipt (spool) */
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
void nh_redact_result(nh_result *r, const nh_target *t, char *const *more, size_t n_more);
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
/* [any] The same; *code (may be NULL) says why it failed: INVALID_CONFIG,
 * SPOOL_BUSY, SPOOL_FULL for spool.path (err names the path), else INTERNAL. */
nh_client *nh_client_open(const nh_options *opt, nh_code *code, char *err, size_t errlen);
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
/* With a spool: take no more records others left (a worker nginx is
 * stopping: what it would take it would only hand back). */
void nh_client_stop_taking(nh_client *c);
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

/* ---- the spool (nh_spool*.c): a durable queue in an SQLite file --------
 *
 * Issue 13: the store; a client with spool.path uses it (nh_spool_client.c).
 * Every process (and every client) on one file shares its queue: put
 * records, take due ones with a lease, renew, finish (delivered: deleted;
 * failed: kept with its receipt for keep_failed seconds), release (close
 * hands back). A holder known dead on this host (its pid is gone, or
 * belongs to a process started at another time) loses what it took to
 * whoever takes next; a holder elsewhere when its lease ran out.
 *
 * Every call is [any] (one mutex per nh_spool; SQLite's own locks between
 * processes), never in a child of fork() (it answers NH_CLOSED there: open
 * the spool again). Times are wall-clock seconds (nh_wall_time()), since
 * they are compared across processes. Errors fill err with "spool PATH:
 * why" (never a record's content) and return a code: NH_SPOOL_BUSY (the
 * file stayed locked past the timeout), NH_SPOOL_FULL (no room: SQLITE_FULL,
 * ENOSPC, EFBIG; nothing of the call was recorded), NH_INVALID_CONFIG (open:
 * not a spool, cannot create or write), NH_QUEUE_FULL (max_queued),
 * NH_NO_MEMORY, NH_CLOSED (forked), NH_INTERNAL. */

typedef struct nh_spool nh_spool;

/* One message to record (nh_spool_item_from_job fills one). */
typedef struct nh_spool_item {
  const char *id;
  int priority;       /* NH_PRIORITY_*: higher is taken first */
  double due;         /* not taken before (wall seconds) */
  int attempt;        /* attempts made so far */
  const char *labels; /* JSON array of the targets' labels (redacted) */
  const char *data;   /* the serialised job (holds secrets) */
  size_t len;
  int group; /* consecutive items of one group are all
                recorded or all refused (QUEUE_FULL) */
  int take;  /* 1: recorded as taken by this handle's owner
                (it delivers it from memory; others only
                after it died or its lease ran out); set to 1
                by a store that cannot send a receipt back
                (the fallback's file): delivered here */
  /* out */
  int64_t seq;  /* the record's number once recorded */
  nh_code code; /* NH_OK: recorded */
} nh_spool_item;

/* One record taken. */
typedef struct nh_spool_rec {
  int64_t seq;
  char *id;
  int attempt;
  double due;
  char *data; /* the serialised job (nh_spool_job_decode) */
  size_t len;
  char *progress; /* its targets' progress: a JSON array of [target, kind,
                     result] (nh_spool_job_resume); NULL: none */
} nh_spool_rec;

typedef struct nh_spool_dest {
  char *label;
  size_t queued, taken, failed;
} nh_spool_dest;

typedef struct nh_spool_stats {
  size_t queued, taken, failed;
  nh_spool_dest *dests;
  size_t n_dests;
} nh_spool_summary;

typedef struct nh_spool_failure {
  char *id;
  char *receipt; /* JSON, redacted */
  double failed_at;
} nh_spool_failure;

/* [pure] The defaults of the rows of NH_SPOOL_OPTIONS. */
void nh_spool_options_default(nh_spool_options *o);
/* [pure] spool.prefix's rule: 1 to 64 of A-Z a-z 0-9 _ . : - (nh_redis_url.c). */
int nh_redis_prefix_ok(const char *prefix);
/* Opens (creating it, mode 0600, when missing) the spool at o->path.
 * timeout: seconds a call waits for another process's lock (SPOOL_BUSY
 * past it). NULL with *code and err on failure. */
nh_spool *nh_spool_open(const nh_spool_options *o, double timeout, nh_code *code, char *err,
                        size_t errlen);
void nh_spool_close(nh_spool *sp); /* NULL is fine; not a release */
/* base/notifyhub-UID (UID: this process's effective uid), made mode 0700
 * when missing, into out: 0, or -1 with err when it cannot be made or is
 * not a directory of this user that nobody else may enter (a name another
 * user made first in a shared /tmp). nh_spool_dir.c. */
int nh_spool_private_dir(const char *base, char *out, size_t outlen, char *err, size_t errlen);
void nh_spool_set_timeout(nh_spool *sp, double timeout);
const char *nh_spool_owner(const nh_spool *sp); /* this handle's owner id */
/* Records items in one transaction (groups refused past max_queued get
 * code QUEUE_FULL, the rest NH_OK). On any other failure nothing is
 * recorded, every item has the returned code. */
nh_code nh_spool_put(nh_spool *sp, nh_spool_item *items, size_t n, char *err, size_t errlen);
/* Takes up to max due records for this handle's owner (highest priority,
 * then earliest due first), after taking over those of dead or expired
 * holders; *n says how many. Free each with nh_spool_rec_free. */
nh_code nh_spool_take(nh_spool *sp, double now, size_t max, nh_spool_rec *out, size_t *n, char *err,
                      size_t errlen);
void nh_spool_rec_free(nh_spool_rec *r);
/* Extends the lease of everything this owner holds to now + lease; *held
 * (may be NULL) says how many records that is. */
nh_code nh_spool_renew(nh_spool *sp, double now, size_t *held, char *err, size_t errlen);
/* Ends a record this owner holds: delivered (deleted), failed (kept with
 * receipt, a redacted JSON text), or back in the queue, due at `due` with
 * `attempt`. *held (may be NULL) is 0 when the record was no longer this
 * owner's (taken over after its lease ran out): nothing changed then. */
nh_code nh_spool_done(nh_spool *sp, int64_t seq, int *held, char *err, size_t errlen);
nh_code nh_spool_fail(nh_spool *sp, int64_t seq, const char *receipt, double now, int *held,
                      char *err, size_t errlen);
nh_code nh_spool_requeue(nh_spool *sp, int64_t seq, double due, int attempt, int *held, char *err,
                         size_t errlen);
/* The same for many records in one transaction (a worker finishing what
 * it delivered since the last call): each end says how; held (out) is 0
 * for a record no longer this owner's. */
/* Two more kinds change a held record without ending it: _TARGET writes
 * one target's progress (target, kind: NH_SPOOL_TARGET_*, receipt: the
 * redacted result, or the waiting target's attempts, part and due time;
 * also while this owner has it parked);
 * _PARK queues it again due at `due` (attempt: the most attempts of a
 * target) while it stays this owner's to take back (nh_spool_unpark). */
enum { NH_SPOOL_DELIVERED, NH_SPOOL_FAILED, NH_SPOOL_AGAIN, NH_SPOOL_TARGET, NH_SPOOL_PARK };
enum { NH_SPOOL_TARGET_FAILED, NH_SPOOL_TARGET_DELIVERED, NH_SPOOL_TARGET_WAITING };
typedef struct nh_spool_end {
  int64_t seq;
  int how; /* NH_SPOOL_DELIVERED, _FAILED (receipt), _AGAIN (due, attempt), _TARGET, _PARK */
  const char *receipt;
  double due;
  int attempt;
  int target, kind; /* NH_SPOOL_TARGET */
  int held;         /* out */
} nh_spool_end;
nh_code nh_spool_finish(nh_spool *sp, nh_spool_end *ends, size_t n, double now, char *err,
                        size_t errlen);
/* nh_spool_finish(ends) and nh_spool_put(items) in one transaction. */
nh_code nh_spool_put_finish(nh_spool *sp, nh_spool_item *items, size_t n, nh_spool_end *ends,
                            size_t m, char *err, size_t errlen);
/* A record this owner parked (NH_SPOOL_PARK) is taken back: *held is 0
 * when another owner took it meanwhile (or it is gone). */
nh_code nh_spool_unpark(nh_spool *sp, int64_t seq, double now, int *held, char *err, size_t errlen);
/* close(): everything this owner holds is queued again (same id, same
 * attempt); the owner leaves the owners table. *n: how many. */
nh_code nh_spool_release(nh_spool *sp, size_t *n, char *err, size_t errlen);
/* Rate windows shared by every process on the spool, with nh_limit.c's
 * rules (at most rules[i].count sends in any rules[i].per seconds): either
 * records a send at `now` (*wait = 0) or records nothing and says how many
 * seconds to wait. */
nh_code nh_spool_rate_take(nh_spool *sp, const char *key, const nh_rate_rule *rules, int n_rules,
                           double now, double *wait, char *err, size_t errlen);

/* The inspector's calls. */
nh_code nh_spool_stats(nh_spool *sp, nh_spool_summary *st, char *err, size_t errlen);
void nh_spool_summary_free(nh_spool_summary *st);
/* Failed records, oldest first, at most limit. */
nh_code nh_spool_failed(nh_spool *sp, size_t limit, nh_spool_failure **out, size_t *n, char *err,
                        size_t errlen);
void nh_spool_failures_free(nh_spool_failure *f, size_t n);
/* Queues the failed records with this id again (due now, attempt 0;
 * max_queued does not apply: it is what an operator asked for);
 * *n: how many. */
nh_code nh_spool_retry(nh_spool *sp, const char *id, size_t *n, char *err, size_t errlen);
nh_code nh_spool_purge_failed(nh_spool *sp, size_t *n, char *err, size_t errlen);

/* Jobs as records (nh_spool_job.c). [job] item_from_job fills it from a
 * planned job (id, priority, labels, the serialised job: message, targets
 * with everything delivery needs, secrets included, retry policy,
 * deadline as wall time); free with nh_spool_item_free. [pure] decode
 * makes a new job from a record (NULL with err when it cannot).
 * receipt: the job's receipt as JSON, every text redacted. */
int nh_spool_item_from_job(nh_spool_item *it, const nh_job *job, double due, int attempt);
void nh_spool_item_free(nh_spool_item *it);
nh_job *nh_spool_job_decode(const char *data, size_t len, char *err, size_t errlen);
char *nh_spool_receipt(const nh_job *job);
/* Per-target progress (nh_spool_job.c). [job] target_result: target i's
 * result as redacted JSON (a receipt's entry); target_waiting: its attempts
 * so far, the part it is at and the wall time its next attempt is due.
 * resume: a decoded job takes a record's progress (nh_spool_rec.progress):
 * ended targets get their results, waiting ones their attempts and due
 * time (job->resume); 0, or -1 without memory. */
typedef struct nh_resume {
  int waiting; /* the target resumes at `at`, part `part` */
  double at;   /* nh_now() based */
  size_t part;
} nh_resume;
char *nh_spool_target_result(const nh_job *job, size_t i);
char *nh_spool_target_waiting(const nh_job *job, size_t i, size_t part, double due_wall);
int nh_spool_job_resume(nh_job *job, const char *progress);
/* [job] A receipt another client wrote (nh_spool_receipt's JSON) becomes
 * the job's outcome: each target's result and the job's code; a target
 * the receipt does not name keeps what it has, or fails INTERNAL. 0, or
 * -1 when it is not a receipt or memory ran out. */
int nh_spool_job_receipt(nh_job *job, const char *receipt);

#endif
