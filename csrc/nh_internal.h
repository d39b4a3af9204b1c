/*
 * nh_internal.h: what the core's parts share among themselves and nobody
 * else sees: the platform interface, the queues, the worker pool, the log
 * buffer and a few string helpers.
 */
#ifndef NH_INTERNAL_H
#define NH_INTERNAL_H

#include <pthread.h>
#include <stdarg.h>
#include <sys/types.h>

#include <curl/curl.h>

#include "nh_core.h"
#include "nh_spool_backend.h"

/* ---- platforms ---------------------------------------------------------- */

/* One HTTP request, built afresh for every attempt. */
typedef struct nh_request {
  char *url;
  const char *method; /* NULL: POST */
  char *body;
  size_t body_len;
  struct curl_slist *headers;
  /* SMTP only: envelope and the credentials (body is the whole message) */
  int smtp;
  char *mail_from;
  struct curl_slist *rcpt;
  const char *username, *password;
  int use_ssl; /* CURLUSESSL_* */
} nh_request;

/* What came back, as the platform sees it. */
typedef struct nh_answer {
  long http_status;
  const char *body; /* NUL-terminated, may be cut at the cap */
  size_t body_len;
} nh_answer;

typedef struct nh_platform {
  const char *name;
  const nh_platform_desc *desc; /* keys, value, rate limit, transient failures */
  /* Fills req for this attempt (signatures are computed here). msg->body is
   * the part being sent when the message was split or cut. On failure
   * returns the code and writes why into err. */
  nh_code (*build)(const nh_message *msg, const nh_target *t, nh_request *req, char *err,
                   size_t errlen);
  /* The text the platform's size limit applies to, as it would be sent, and
   * whether the limit counts UTF-8 characters (1) or bytes (0); NULL when
   * the platform has no limit. */
  char *(*render)(const nh_message *msg, const nh_target *t, int *in_chars);
  size_t (*limit)(const nh_message *msg, const nh_target *t);
  /* Optional: refuses at submit time a message the platform cannot send. */
  nh_code (*check)(const nh_message *msg, const nh_target *t, char *err, size_t errlen);
  /* Decides success from an answer that arrived; fills r (not attempts or
   * timing). */
  void (*classify)(const nh_target *t, const nh_answer *a, nh_result *r);
} nh_platform;

/* A growable string (nh_text.c). */
typedef struct nh_buf {
  char *data;
  size_t len, cap;
  int failed;
} nh_buf;

int nh_buf_add(nh_buf *b, const char *s, size_t n);
int nh_buf_puts(nh_buf *b, const char *s);
char *nh_buf_take(nh_buf *b);
int nh_buf_escape(nh_buf *b, const char *s, const char *special, const char *const *with);
int nh_buf_escape_html(nh_buf *b, const char *s);
size_t nh_utf8_chars(const char *s, size_t n);
size_t nh_text_units(const char *s, int in_chars);
size_t nh_utf8_prefix(const char *s, size_t n, size_t max, int in_chars);

/* Markdown through cmark (nh_markdown.c): one walk over cmark's tree with
 * each platform's markup rules. */
typedef enum nh_md_style {
  NH_MD_SLACK,         /* mrkdwn: *bold* _italic_ `code` <url|text> "> " "• " */
  NH_MD_TELEGRAM_HTML, /* <b> <i> <code> <pre> <a href> <blockquote> */
  NH_MD_TELEGRAM_V2,   /* MarkdownV2, reserved characters escaped */
  NH_MD_DINGTALK,      /* DingTalk's markdown subset */
  NH_MD_WECOM,         /* WeCom's: bold, links, code, quotes, headings */
  NH_MD_TEAMS,         /* Adaptive Card TextBlock: bold, italic, lists, links */
  NH_MD_FEISHU,        /* post elements (nh_markdown_feishu) */
  NH_MD_DISCORD,       /* Discord's: **bold** *italic* # to ### headings, [text](url) */
  NH_MD_PUSHOVER,      /* Pushover's html=1: <b> <i> <a href>, the rest as text */
  NH_MD_ROCKETCHAT,    /* Rocket.Chat: *bold* _italic_ `code` ``` [t](url) */
  NH_MD_GCHAT,         /* Google Chat text: *bold* _italic_ `code` ``` <url|text> */
  NH_MD_STYLES         /* how many there are */
} nh_md_style;
int nh_buf_markdown(nh_buf *b, const char *md, nh_md_style style);
/* Google Chat's < in text: followed by a zero-width space (U+200B). */
#define NH_GCHAT_LT "<\xe2\x80\x8b"
/* Feishu post paragraphs: arrays of text (style bold/italic) and a elements. */
cJSON *nh_markdown_feishu(const char *md);
/* E-mail: cmark's HTML (safe: no raw HTML, no javascript: links); malloc'd. */
char *nh_markdown_html(const char *md);
/* HTML as plain text: "text (url)" links, entities decoded (nh_html_text.c). */
int nh_buf_html_text(nh_buf *b, const char *html);
/* HTML in Telegram's HTML parse mode: its tags kept (balanced), the rest as text. */
int nh_buf_html_telegram(nh_buf *b, const char *html);
char *nh_html_text(const char *html);
/* The message body as the platform's text: html as plain text, the rest as
 * it is (nh_html_text.c). */
char *nh_body_text(const nh_message *m);
/* "title\nbody", or whichever of the two there is (nh_html_text.c). */
char *nh_title_body(const nh_message *m, const char *sep);
int nh_format_is(const nh_message *m, const char *format);
/* message.type's word ("info" ... "failure"), its capitalised title
 * ("Info" ... "Failure"), or NULL for NH_TYPE_NONE (nh_html_text.c). */
const char *nh_type_word(const nh_message *m, int capital);
/* One of four strings by message.type (info, success, warning, failure),
 * NULL for NH_TYPE_NONE: the per-platform colour tables. */
const char *nh_type_pick(const nh_message *m, const char *const by_type[4]);
/* message.type as 0 (info, also when not given) to 3 (failure): an index
 * into a platform's table of four. */
int nh_type_index(const nh_message *m);

/* Platform options and message data (nh_platform.c). */
const char *nh_opt_string(const nh_target *t, const char *key);
int nh_opt_bool(const nh_target *t, const char *key, int dflt);
cJSON *nh_opt_item(const nh_target *t, const char *key);
/* platform_data[platform][key] of the message, or NULL. */
cJSON *nh_platform_data(const nh_message *m, const char *platform, const char *key);

#define NH_X_DECL(id, name) extern const nh_platform nh_platform_##name;
NH_PLATFORMS(NH_X_DECL)
#undef NH_X_DECL

const nh_platform *nh_platform_get(nh_platform_id id);
/* The class of a failed attempt's result (an SMTP 4xx reply: r->transient). */
nh_failure nh_failure_class(const nh_result *r);
/* The one retry decision: 1 when the platform's descriptor calls the
 * failure in r worth another attempt. */
int nh_platform_transient(nh_platform_id id, const nh_result *r);
void nh_request_free(nh_request *req);
/* Adds one "Name: value" line (NULL: out of memory, -1); the caller has refused CR and LF. */
int nh_request_add_header(nh_request *req, const char *line);
/* Adds "Content-Type: application/json" and the target's own headers. */
int nh_request_json_headers(nh_request *req, const nh_target *t);
/* Serialises and frees root into req->body. */
nh_code nh_request_set_json(nh_request *req, cJSON *root, char *err, size_t errlen);
/* The usual JSON POST: takes url (malloc'd, may be NULL when out of memory)
 * and root (freed), adds the JSON and target headers. */
nh_code nh_request_json(nh_request *req, const nh_target *t, char *url, cJSON *root, char *err,
                        size_t errlen);
/* An answer's numeric code: 1 with *code set when item is a whole number
 * that a long holds exactly (|n| <= 2^53), else 0: a code of 1e300, 0.5 or
 * NaN from a hostile server is no code at all, never a cast out of range. */
int nh_json_code(const cJSON *item, long *code);
/* Shared by platforms whose 2xx means delivered and anything else does not. */
void nh_classify_http(const nh_answer *a, nh_result *r);
/* DingTalk and WeCom: HTTP 200 with {"errcode","errmsg"}; too_fast is the
 * code that means rate limited. */
void nh_classify_errcode(const char *name, long too_fast, const nh_answer *a, nh_result *r);
/* Every key of the object src replaces dst's (a copy; platform_data over a
 * built body). */
void nh_json_merge(cJSON *dst, const cJSON *src);
/* The first line of s, at most max_chars characters (cut ones end with an
 * ellipsis); malloc'd. */
char *nh_text_line(const char *s, size_t max_chars);
/* Which part of a split message m->body is (0 when not split). */
int nh_part_index(const nh_message *m, const nh_target *t);
/* Adds "Authorization: <scheme> <key>"; NH_INVALID_MESSAGE (naming the key,
 * never its value) when key holds a control character. */
nh_code nh_request_auth(nh_request *req, const char *scheme, const char *key, const char *name,
                        char *err, size_t errlen);

/* ---- e-mail attachments (nh_attach.c) ------------------------------------ */

/* attachments_max_bytes of the target, or the default (25 MiB). */
size_t nh_attach_limit(const nh_target *t);
/* Submit time: names, types and sizes fit, every path is a regular file
 * inside attachments_dir (stat only, nothing read). */
nh_code nh_attach_check(const nh_message *m, const nh_target *t, char *err, size_t errlen);
/* Worker: appends the attachment's bytes to out (a file is read now, under
 * the same rules and before m->deadline); *total counts the message's
 * attachment bytes so far, for the limit. */
nh_code nh_attach_load(const nh_message *m, const nh_target *t, const nh_attachment *a,
                       size_t *total, nh_buf *out, char *err, size_t errlen);

/* ---- crypto (nh_crypto.c) ----------------------------------------------- */

/* base64(HMAC-SHA256(key, data)) into out (at least 45 bytes). */
int nh_hmac_sha256_base64(const void *key, size_t keylen, const void *data, size_t datalen,
                          char *out, size_t outlen);
unsigned char *nh_base64_decode(const char *in, size_t *outlen);
/* Percent-encodes s for a URL query value. */
char *nh_url_encode(const char *s);

/* ---- strings (nh_util.c) ------------------------------------------------ */

char *nh_strdup(const char *s); /* NULL stays NULL */
char *nh_strndup(const char *s, size_t n);
char *nh_sprintf(const char *fmt, ...);
char *nh_vsprintf(const char *fmt, va_list ap);
double nh_wall_time(void); /* Unix seconds */

/* Jobs detached so far in this process (nh_job.c). */
unsigned long nh_job_detaches(void);

/* How a job ends (nh_job.c): cancel() and the core race to decide it once,
 * with one compare-and-swap on job->fate. */
/* 1 when the job will end CANCELLED (the cancel won now or before). */
int nh_job_fate_cancel(nh_job *job);
int nh_job_is_cancelled(const nh_job *job);
/* The job ends now: 1 when it ends as its results say (a later cancel
 * answers 0), 0 when a cancel came first: then nh_job_end_cancelled(). */
int nh_job_seal(nh_job *job);
/* The code becomes CANCELLED and, unless a target already says so, target
 * i's result (each failed one when i is out of range) does too. */
void nh_job_end_cancelled(nh_job *job, size_t i);

/* Delays (nh_job.c). No timer, retry or hint waits longer than this. */
#define NH_MAX_DELAY 3600.0
/* seconds within [0, min(max, NH_MAX_DELAY)]; NaN and negatives are 0. */
double nh_delay_clamp(double seconds, double max);
/* A policy the core can run: finite, non-negative delays, multiplier >= 1,
 * max_elapsed 0 (no limit) unless positive and finite. */
void nh_retry_sanitize(nh_retry *p);

/* ---- submission queue (nh_queue.c) -------------------------------------- */

typedef struct nh_queue {
  pthread_mutex_t lock;
  pthread_cond_t not_empty;  /* idle workers sleep here */
  pthread_cond_t not_full;   /* submitters wait for room */
  nh_job *head[4], *tail[4]; /* one FIFO per priority */
  size_t length, capacity;
  size_t reserved; /* direct mode: jobs in threads */
  double aging;    /* seconds before any job goes first */
  nh_job **heap;   /* queued jobs with a deadline */
  int heap_len, heap_cap;
  int idle_workers;  /* waiting on not_empty */
  int wakes_pending; /* of those, signalled, not yet up */
  int closing;       /* no more pushes */
  int aborting;      /* cut everything off now */
} nh_queue;

/* The *_locked calls are made with q->lock held, from any thread. */
int nh_queue_init(nh_queue *q, size_t capacity, double aging);
void nh_queue_destroy(nh_queue *q);
/* Room for n more jobs with a deadline; -1 (nothing changed) when there is
 * no memory for it. After it, appending that many cannot fail. */
int nh_queue_reserve_locked(nh_queue *q, size_t n);
/* -1 when the job could not go in (no memory for its deadline): it is in no
 * list then, and the caller must end it. */
int nh_queue_append_locked(nh_queue *q, nh_job *job);
void nh_queue_remove_locked(nh_queue *q, nh_job *job);
int nh_queue_contains_locked(const nh_queue *q, const nh_job *job);
nh_job *nh_queue_pop_locked(nh_queue *q);
nh_job *nh_queue_first_deadline_locked(nh_queue *q);
/* Waits (lock held) until there is room for n more, the deadline passes or
 * the queue closes; returns NH_OK, NH_QUEUE_FULL or NH_CLOSED. */
nh_code nh_queue_wait_room_locked(nh_queue *q, size_t n, double timeout);
/* pthread_cond_timedwait for `seconds` on the monotonic clock. */
int nh_queue_timedwait(pthread_cond_t *cond, pthread_mutex_t *lock, double seconds);

/* ---- rate limits (nh_limit.c) ------------------------------------------- */

typedef struct nh_limits nh_limits;

nh_limits *nh_limits_new(void);
void nh_limits_free(nh_limits *l);
/* 0 when the target may send now (and the send is counted), else the
 * seconds until it may. */
double nh_limits_reserve(nh_limits *l, const nh_target *t, double now);
/* How many destinations the limits track now (idle ones are dropped). */
size_t nh_limits_count(nh_limits *l);

/* ---- latency (nh_latency.c) --------------------------------------------- */

/* Any thread (atomics): a target of platform p ended ms after its submit. */
void nh_latency_record(nh_client *c, nh_platform_id p, double ms);
void nh_latency_read(nh_client *c, nh_platform_id p, nh_latency *out);

/* ---- fork (nh_fork.c) ---------------------------------------------------- */

/* Any thread: the process's fork generation (a client keeps the one it was
 * made in); nh_fork_since(gen) is 1 in a child forked after gen was read. */
unsigned nh_fork_generation(void);
int nh_fork_since(unsigned gen);

/* ---- completion queue (nh_completion.c) --------------------------------- */

typedef struct nh_completions {
  pthread_mutex_t lock;
  nh_job *head, *tail;
  size_t length;
  int fd_read, fd_write;      /* the same fd for an eventfd */
  int waker_listen, waker_fd; /* nh_waker.c; -1: none */
  int waker_armed;            /* under lock: the owner sleeps on waker_fd */
  int fd_unused;              /* under lock: a waker replaces the fd and
                                 nobody asked for it: no eventfd syscalls */
  char waker_path[108];       /* while listening; "" otherwise */
} nh_completions;

int nh_completions_init(nh_completions *cq);
void nh_completions_destroy(nh_completions *cq);
/* Any thread, with cq->lock held: the finisher counts the job in the same
 * step (nh_finish_job). */
void nh_completions_push_locked(nh_completions *cq, nh_job *job);
/* Any thread, with cq->lock held: makes the fd readable (a waiter
 * re-checks its state). */
void nh_completions_signal_locked(nh_completions *cq);
/* Owner thread (they clear the fd and take records; they lock cq->lock). */
size_t nh_completions_take(nh_completions *cq, nh_job **out, size_t max);
/* Drops records whose handle is gone; returns how many. */
size_t nh_completions_purge(nh_completions *cq);
int nh_completions_wait(nh_completions *cq, double timeout);
/* nh_waker.c: any thread, with cq->lock held after a push: wakes an armed
 * owner. */
void nh_waker_push_locked(nh_completions *cq);
void nh_waker_destroy(nh_completions *cq);
/* Someone asked for the fd (nh_client_fd): it is kept readable again. */
void nh_completions_want_fd(nh_completions *cq);

/* ---- log buffer (nh_log.c) ---------------------------------------------- */

typedef struct nh_logbuf {
  pthread_mutex_t lock;
  nh_log_record *head, *tail;
  size_t length, capacity;
  uint64_t dropped;
  int level;
} nh_logbuf;

void nh_logbuf_init(nh_logbuf *b, int level, size_t capacity);
void nh_logbuf_destroy(nh_logbuf *b);
void nh_log(nh_logbuf *b, int level, int worker_id, const char *message_id, const char *fmt, ...);
/* The same, about one attempt of one message. */
void nh_log_attempt(nh_logbuf *b, int level, int worker_id, const char *message_id, int attempt,
                    const char *fmt, ...);
/* nh_log(), past the capacity too when keep is set (what close cut off);
 * 1 when the record was kept. */
int nh_log_keep(nh_logbuf *b, int level, int keep, const char *message_id, const char *fmt, ...);
nh_log_record *nh_logbuf_take(nh_logbuf *b);

#define NH_LATENCY_BUCKETS 160 /* 10% steps from 0.1 ms to 7 minutes; more goes last */

/* ---- workers (nh_worker.c) ---------------------------------------------- */

typedef struct nh_worker nh_worker;

struct nh_worker {
  nh_client *client;
  int id;
  pthread_t thread;
  int started;
  CURLM *multi;
  int active;         /* transfers in flight (atomic: the pool reads it) */
  int capacity;       /* concurrency */
  int wants_work;     /* in curl_multi_poll with room: wake on push */
  int cancel_pending; /* under queue.lock: a job of this worker was cancelled */
  int retiring;       /* idle past idle_timeout: leaves the pool */
  nh_job *own_job;    /* direct mode: the one job of this thread */
  int finished;       /* direct mode: the thread has returned */
  CURL **spare;       /* easy handles kept for reuse */
  int n_spare;
  nh_worker *next;
};

void *nh_worker_main(void *arg);
/* queue.lock held, any thread (the owner's submit, a worker's loop): one
 * more pool thread (0, or -1 when none could be made). */
int nh_worker_start_locked(nh_client *c);
/* queue.lock held, any thread: starts another pool thread when a backlog
 * has lasted grow_after with no worker having room. */
void nh_worker_grow_locked(nh_client *c);

/* ---- transfers (nh_transfer.c) ------------------------------------------ */

typedef struct nh_transfer {
  nh_worker *w;
  nh_job *job;
  size_t index; /* which target of the job */
  size_t part;  /* which part of a split message */
  CURL *easy;
  nh_request req;
  char *buf; /* the answer's body, up to max_response */
  size_t len, cap;
  size_t sent; /* SMTP: bytes of req.body uploaded */
  int too_big;
  int hops;            /* redirects followed so far */
  double started;      /* nh_now() at the first request */
  int cut_to_deadline; /* its limit is what was left of the message's time */
  char errbuf[CURL_ERROR_SIZE];
  struct nh_smtp_log *smtp; /* SMTP: what the server replied (nh_smtp.c) */
  struct nh_transfer *prev, *next;
} nh_transfer;

/* SMTP transfers (nh_smtp.c): nh_smtp_watch records the server's replies
 * (libcurl's debug callback) and lets a refused recipient not stop the
 * others; nh_smtp_record turns them into the target's result: the
 * server's own reply text, its code, 4xx as transient, refused recipients
 * named. */
void nh_smtp_watch(nh_transfer *t, CURL *easy);
void nh_smtp_record(nh_transfer *t, CURLcode rc, nh_code code, nh_result *r);
void nh_smtp_free(nh_transfer *t);

nh_transfer *nh_transfer_start(nh_worker *w, nh_job *job, size_t i, size_t part);
/* Fills the target's result from what came back (rc: libcurl's verdict). */
void nh_transfer_record(nh_transfer *t, CURLcode rc);
/* A redirect to the same scheme, host and port, within http.follow_redirects:
 * sends the same request there and returns 1 (the transfer goes on). */
int nh_transfer_follow(nh_transfer *t, CURLcode rc);
void nh_transfer_free(nh_transfer *t);
/* Owner thread: runs one job to the end on it (async.enabled = false). */
void nh_worker_run_inline(nh_client *c, nh_job *job);

/* ---- the client, as its parts see it (nh_client.c) ---------------------- */

struct nh_client {
  nh_options opt;
  char *ca_file, *proxy, *user_agent; /* owned copies */
  char **secrets;                     /* the proxy's user info (nh_redact_proxy_secrets), */
  size_t n_secrets;                   /*   cut out of every answer and result */
  nh_queue queue;
  nh_completions done;
  nh_logbuf log;
  CURLSH *share;
  pthread_mutex_t share_locks[CURL_LOCK_DATA_LAST];
  pthread_mutex_t lock; /* direct-mode thread list */
  pthread_cond_t idle;  /* with done.lock: outstanding hit 0 */
  nh_worker *workers;   /* pool threads */
  nh_worker *retired;   /* pool threads that left, to join */
  nh_limits *limits;
  double backlog_since; /* under queue.lock: 0, or when a
                           backlog with no room began */
  nh_worker *direct;    /* direct-mode threads */
  int n_workers;
  int next_worker_id;
  uint64_t next_seq;
  uint64_t id_prefix;
  uint64_t id_counter; /* atomic */
  /* counters, under lock */
  uint64_t submitted, succeeded, failed, closed, dropped, threads_created;
  uint64_t retried, cancelled, timed_out;
  size_t waiting; /* atomic: taken jobs with only timers */
  uint64_t latency[NH_PLATFORM_COUNT][NH_LATENCY_BUCKETS];
  size_t in_flight;               /* taken by a worker, not done */
  size_t outstanding;             /* under done.lock: not yet completed */
  int closed_flag;                /* close() has run */
  int ready;                      /* locks and queues exist */
  unsigned fork_generation;       /* nh_fork_generation at creation */
  unsigned long detaches_seen;    /* nh_job_detaches() at the last purge */
  uint64_t closed_before;         /* c->closed when close() began */
  int closing;                    /* atomic: close() began */
  int at_exit;                    /* atomic: the exit handler closes it */
  int exit_open;                  /* the exit handler's: it was left open */
  nh_client *live_next;           /* the process's live clients */
  nh_spool *spool;                /* spool.path's store, or NULL (memory only) */
  struct nh_spool_writer *writer; /* its writer thread (nh_spool_client.c) */
  nh_spool *rates;                /* the rate windows' connection (worker threads), or NULL */
  double spool_call_since;        /* atomic: nh_now() when the store call under way began, 0: none
                                     (nh_spool_client_calling) */
  double spool_doubt;             /* atomic: nh_now() when a call on a Redis spool last failed
                                     (cut off: others may take what it holds after the lease);
                                     jobs queued before are confirmed held before a send */
  uint64_t handed_over;           /* atomic: ended HANDED_OVER */
  struct nh_spool_remote *remote; /* jobs waiting for a receipt (nh_spool_remote.c); NULL:
                                     the store sends none back */
  int deliver_any;                /* spool.deliver = "any" */
};

/* ---- the pool (nh_pool.c): the owner thread's calls ---------------------- */

/* Owner thread (nh_client_new): one more pool thread; 0 or -1. */
int nh_pool_start_worker(nh_client *c);
/* Owner thread (submit): a thread for this one job (direct mode). */
nh_code nh_pool_start_direct(nh_client *c, nh_job *job);
/* queue.lock held: wakes one worker for a new job. */
void nh_pool_wake_locked(nh_client *c);
/* close() in two steps, so that the exit handler closes every client at
 * once: begin stops accepting (0 when there is nothing to close), end
 * waits until the deadline (nh_now() based), cuts off and joins. The owner
 * thread, or the exit handler (no owner runs then). */
int nh_pool_close_begin(nh_client *c);
size_t nh_pool_close_end(nh_client *c, double deadline);
/* Owner thread: joins direct-mode threads that returned (all: every one)
 * and retired ones. */
void nh_pool_reap(nh_client *c, int all);

/* ---- the client's spool (nh_spool_client.c) ------------------------------ */

/* Seconds a submit waits for the spool: async.timeout, at least
 * spool.wait (a commit takes time even when nobody holds the lock; 1 s by
 * default, notifyhub.ngx makes it 0.1 s: the event loop waits). Opening
 * waits at least NH_SPOOL_MIN_WAIT (workers starting at once make the
 * schema one after the other). */
#define NH_SPOOL_MIN_WAIT 1.0
static inline double nh_spool_client_wait(double queue_timeout, double spool_wait) {
  return queue_timeout > spool_wait ? queue_timeout : spool_wait;
}
typedef struct nh_spool_writer nh_spool_writer;
/* nh_client_new: opens spool.path into c->spool and starts its writer. */
nh_code nh_spool_client_open(nh_client *c, const nh_options *opt, char *err, size_t errlen);
/* close (after the workers were joined): hands back what this client holds,
 * closes the spool; never waits for the store past deadline (nh_now()). */
size_t nh_spool_client_close(nh_client *c, double deadline);
/* Owner thread (submit): records the jobs (stamped, planned) as one group,
 * through the writer, waiting at most nh_spool_client_wait(wait, spool.wait) for its
 * turn; sets each job's spool_seq on NH_OK. Nothing is recorded otherwise. */
nh_code nh_spool_client_record(nh_client *c, nh_job **jobs, size_t n, double wait, char *err,
                               size_t errlen);
/* The writer of a client on a spool (nh_spool_client.c) and the calls its
 * submitters wait in; nh_spool_ends.c queues the ends of finished jobs. */
enum { NH_SLOT_WAITING, NH_SLOT_WRITING, NH_SLOT_DONE };
#define NH_SPOOL_ENDS_MANY 256 /* ends written at once without waiting */

/* One submit's items, on the caller's stack while it waits. */
typedef struct nh_spool_slot {
  nh_spool_item *items;
  nh_job **remote; /* spool.deliver = "any": the jobs, listed as their
                      records commit (before any receipt can be read) */
  size_t n;
  double deadline; /* nh_now() */
  int state;       /* SLOT_*, under the writer's lock */
  nh_code code;
  char err[256];
  struct nh_spool_slot *next;
} nh_spool_slot;

struct nh_spool_writer {
  pthread_mutex_t lock;
  pthread_cond_t wake;   /* the writer sleeps here */
  pthread_cond_t filled; /* submitters wait here */
  nh_spool_slot *head, **tail;
  nh_spool_end *ends; /* finished jobs; each receipt is owned */
  size_t n_ends, cap_ends;
  double ends_since;  /* nh_now() when the first pending end came */
  double last_submit; /* nh_now() of the last submit a caller committed itself */
  int busy;           /* a round is being written (by the writer or a caller) */
  int idle;           /* the writer sleeps longer than ENDS_DELAY: wake it for ends */
  int stop;
  int no_take; /* the process is leaving: take no record others left */
  double stop_deadline;
  pthread_t thread;
  nh_client *c;
};

/* ---- ends of spooled jobs (nh_spool_ends.c) ------------------------------ */

/* Any thread (nh_finish_job): the job's record ends with the job (delivered
 * or cancelled: deleted; failed: kept with its receipt; HANDED_OVER: stays
 * held until close() releases it). */
void nh_spool_client_end(nh_client *c, nh_job *job);
/* Any thread: queues e for the writer (it owns e->receipt from here). */
void nh_spool_ends_queue(nh_client *c, nh_spool_end *e);
/* w->lock held: appends e (0), or -1 without memory (the end is dropped:
 * the record stays held, and is delivered again after this process). */
int nh_spool_ends_push_locked(nh_spool_writer *w, const nh_spool_end *e);
/* Frees n ends and their receipts. */
void nh_spool_ends_free(nh_spool_end *ends, size_t n);
/* Any thread, no lock held: the writer, when it sleeps long (idle), looks
 * again now (a job began to wait for a receipt). */
void nh_spool_writer_wake(nh_client *c);
/* A worker: target i of the job ended for good while others go on; its
 * result is written down (through the writer) for a takeover. */
void nh_spool_client_target_end(nh_client *c, nh_job *job, size_t i);
/* A worker: writes ends (waiting targets, then the park) now, in one
 * transaction; 0 when the last one (the park) held. */
int nh_spool_client_park(nh_client *c, nh_spool_end *ends, size_t n, char *err, size_t errlen);
/* 1 when a job queued at `since` (nh_now()) may have gone to another client:
 * a call on its Redis spool failed since, or finished jobs' ends have waited
 * unwritten too long (a cut line answers nothing). The worker confirms such
 * a job held (nh_spool_unpark) before it sends it. */
int nh_spool_client_doubt(nh_client *c, double since);
/* Around each store call of the writer (or of a caller writing its own
 * submit): a call that takes longer than a moment puts the client in doubt
 * as a failed one does (a cut line neither answers nor fails). */
void nh_spool_client_calling(nh_client *c, int on);

/* ---- jobs waiting for another client's receipt (nh_spool_remote.c) ------- */

/* With a store that sends receipts back (its backend's receipts entry):
 * the jobs this client accepted that another client delivers, keyed by
 * spool_seq; the list's lock is a leaf. */
typedef struct nh_spool_remote nh_spool_remote;
nh_spool_remote *nh_spool_remote_new(void);
/* Any thread, no lock held: the job (accepted, recorded, job->remote set)
 * waits for its receipt; without memory it ends now (NO_MEMORY). */
void nh_spool_remote_add(nh_client *c, nh_job *job);
/* The writer: the waiting job of this seq, no longer listed (NULL: none). */
nh_job *nh_spool_remote_take(nh_client *c, int64_t seq);
/* Any thread: how many jobs wait (0 without a list). */
size_t nh_spool_remote_count(nh_client *c);
/* The writer, no lock held: reads the receipts the store has for this
 * client, ends each waiting job they name, once, with the receipt's
 * outcome; ends TIMEOUT those whose deadline passed more than a second ago. */
void nh_spool_remote_poll(nh_client *c);
/* close(), workers joined and writer stopped: the jobs left end
 * HANDED_OVER; the list is freed. */
void nh_spool_remote_close(nh_client *c);

/* ---- how jobs end (nh_finish.c) ------------------------------------------ */

/* Any thread. It takes done.lock and the log's lock, so the caller holds
 * neither (queue.lock may be held: it comes first in the lock order).
 * A job has ended: counts it, logs its failure and hands it to the owner
 * (or releases it when detached). Called exactly once per accepted job, by
 * whoever took it out of the queue or ran it. */
void nh_finish_job(nh_client *c, nh_job *job);
/* The same, for a job that ends before any request (or any further one):
 * every target nothing has ended yet fails with code and text, job->code
 * becomes code, and the job finishes (nh_finish_job), once. */
void nh_finish_fail(nh_client *c, nh_job *job, nh_code code, const char *text);
/* The exit handler: names on stderr the failed records nobody read. */
void nh_finish_report_unread(nh_client *c);

/* ---- the spool's backends ------------------------------------------------ */

/* "spool <path>: <why>" into err (printf-style why); returns code. Every
 * backend's errors read this way (nh_spool_common.c). */
nh_code nh_spool_refuse(char *err, size_t errlen, nh_code code, const char *path, const char *fmt,
                        ...);
/* Checkpoints off the committing thread, where the store has them (SQLite's
 * WAL; nothing elsewhere): defer makes commits leave them to
 * nh_spool_checkpoint (one thread), which runs one when the last commit
 * left at least min_frames in the WAL; wal_frames: those frames (0: none). */
void nh_spool_defer_checkpoints(nh_spool *sp);
int nh_spool_wal_frames(nh_spool *sp);
void nh_spool_checkpoint(nh_spool *sp, int min_frames);

#endif
