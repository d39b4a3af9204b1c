/*
 * lnh_job.c: the "notifyhub.job" token a handle keeps for its job, and
 * receipts, the Lua form of a finished job.
 *
 * The token holds one reference to the job. When the token is collected the
 * job is detached: the core drops its completion instead of queueing it for
 * a handle that no longer exists, so fire-and-forget sending never piles up
 * records nobody polls.
 */
#include <string.h>

#include "lnh_binding.h"

typedef struct lnh_job {
  nh_job *job;
  int anchored; /* the handle has callbacks waiting for it */
} lnh_job;

static const char *const state_names[] = { "new", "queued", "sending", "done" };

void lnh_job_push_token(lua_State *L, nh_job *job) {
  lnh_job *t = lnh_newuserdata(L, sizeof *t);
  t->job = job;
  t->anchored = 0;
  luaL_getmetatable(L, LNH_JOB_MT);
  lua_setmetatable(L, -2);
}

static lnh_job *lnh_check_job(lua_State *L, int idx) { return luaL_checkudata(L, idx, LNH_JOB_MT); }

nh_job *lnh_job_of(lua_State *L, int idx) { return lnh_check_job(L, idx)->job; }

/* token:state() -> "queued" | "sending" | "done" */
static int lnh_job_state(lua_State *L) {
  lnh_job *t = lnh_check_job(L, 1);
  lua_pushstring(L, t->job ? state_names[nh_job_state(t->job) & 3] : "done");
  return 1;
}

/* token:anchor(): callbacks wait for this job, so even when the token is
 * collected together with its client, the completion must reach them. */
static int lnh_job_anchor(lua_State *L) {
  lnh_check_job(L, 1)->anchored = 1;
  return 0;
}

static int lnh_job_gc(lua_State *L) {
  lnh_job *t = lnh_check_job(L, 1);
  if (t->job) {
    if (!t->anchored) nh_job_detach(t->job);
    nh_job_release(t->job);
    t->job = NULL;
  }
  return 0;
}

static int lnh_job_tostring(lua_State *L) {
  lnh_job *t = lnh_check_job(L, 1);
  lua_pushfstring(L, "notifyhub.job (%s)", t->job ? t->job->msg.id : "released");
  return 1;
}

static void set_string(lua_State *L, const char *key, const char *value) {
  if (!value) return;
  lua_pushstring(L, value);
  lua_setfield(L, -2, key);
}

static void set_number(lua_State *L, const char *key, lua_Number value) {
  lua_pushnumber(L, value);
  lua_setfield(L, -2, key);
}

static void set_integer(lua_State *L, const char *key, lua_Integer value) {
  lua_pushinteger(L, value);
  lua_setfield(L, -2, key);
}

/* result.rejected = { "a@x", ... }: the recipients an SMTP server refused
 * (the core keeps them one per line). */
static void push_rejected(lua_State *L, const char *lines) {
  lua_newtable(L);
  int n = 0;
  for (const char *p = lines; *p;) {
    const char *eol = strchr(p, '\n');
    size_t len = eol ? (size_t)(eol - p) : strlen(p);
    lua_pushlstring(L, p, len);
    lua_rawseti(L, -2, ++n);
    p += len + (eol ? 1 : 0);
  }
  lua_setfield(L, -2, "rejected");
}

static void push_result(lua_State *L, const nh_target *t, const nh_result *r) {
  lua_createtable(L, 0, 10);
  set_string(L, "platform", nh_platform_name(t->platform));
  set_string(L, "target", t->label);
  lua_pushboolean(L, r->success);
  lua_setfield(L, -2, "success");
  if (!r->success) {
    set_string(L, "error", r->error ? r->error : nh_code_text(r->code));
    set_string(L, "code", nh_code_name(r->code));
  }
  if (r->http_status) set_integer(L, "http_status", r->http_status);
  if (r->has_platform_code) set_integer(L, "platform_code", r->platform_code);
  set_integer(L, "attempts", r->attempts);
  if (t->n_parts > 1) {
    set_integer(L, "parts", (lua_Integer)t->n_parts);
    set_integer(L, "parts_sent", r->parts_sent);
  }
  if (r->retry_after > 0) set_number(L, "retry_after", r->retry_after);
  set_number(L, "duration_ms", r->duration_ms);
  if (r->response) {
    lua_pushlstring(L, r->response, r->response_len); /* bytes, NULs included */
    lua_setfield(L, -2, "response");
  }
  if (r->rejected) push_rejected(L, r->rejected);
}

void lnh_push_receipt(lua_State *L, const nh_job *job) {
  const nh_message *m = &job->msg;
  size_t ok = 0, partial = 0;
  const nh_result *first_failure = NULL;
  lua_createtable(L, 0, 10);
  set_string(L, "message_id", m->id);
  set_integer(L, "seq", (lua_Integer)job->seq);
  lua_createtable(L, (int)m->n_targets, 0);
  for (size_t i = 0; i < m->n_targets; i++) {
    const nh_result *r = &job->results[i];
    push_result(L, &m->targets[i], r);
    lua_rawseti(L, -2, (int)i + 1);
    if (r->success) ok++;
    /* The failure that ended the job (CANCELLED, TIMEOUT, CLOSED), else the first. */
    else if (!first_failure || (r->code == job->code && first_failure->code != job->code))
      first_failure = r;
    if (r->partial) partial++; /* an e-mail some recipients got */
  }
  lua_setfield(L, -2, "results");
  set_integer(L, "total", (lua_Integer)m->n_targets);
  set_integer(L, "successful", (lua_Integer)ok);
  set_integer(L, "failed", (lua_Integer)(m->n_targets - ok));
  set_string(L, "status",
             ok == m->n_targets && ok > 0 ? "success"
             : ok + partial > 0           ? "partial"
                                          : "failed");
  if (first_failure) {
    set_string(L, "error",
               first_failure->error ? first_failure->error : nh_code_text(first_failure->code));
    set_string(L, "code", nh_code_name(first_failure->code));
  }
}

void lnh_job_open(lua_State *L) {
  static const luaL_Reg methods[] = { { "state", lnh_job_state },
                                      { "anchor", lnh_job_anchor },
                                      { NULL, NULL } };
  static const luaL_Reg meta[] = { { "__gc", lnh_job_gc },
                                   { "__tostring", lnh_job_tostring },
                                   { NULL, NULL } };
  lnh_new_class(L, LNH_JOB_MT, meta, methods);
}
