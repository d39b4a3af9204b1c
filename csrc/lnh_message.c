/*
 * lnh_message.c: copies a message table, already checked and resolved by the
 * Lua façade, into a new job. The job is owned by a token userdata from the
 * first allocation on, so an error raised half-way frees it with the token.
 *
 * Table shape: { id, title, body, format, priority = 0..3, type = 0..4, metadata,
 * platform_data, targets = { { platform, url, label, secret, method,
 * headers = { "Name: value" }, keywords = { ... }, options = { ... },
 * secrets = { values cut out of every text about the target },
 * overflow = "truncate" | "split" | "error" } }, attachments = { {
 * filename, content_type, content or path } } }. Attachment content is
 * bytes: copied with its length, NUL bytes and all.
 */
#include <stdlib.h>
#include <string.h>

#include "lnh_binding.h"

/* The string field of the table at t, copied, or NULL when absent. */
static char *opt_string(lua_State *L, int t, const char *field) {
  lua_getfield(L, t, field);
  char *s = NULL;
  if (lua_type(L, -1) == LUA_TSTRING) {
    size_t n;
    const char *p = lua_tolstring(L, -1, &n);
    s = malloc(n + 1);
    if (!s) luaL_error(L, "out of memory");
    memcpy(s, p, n + 1);
  } else if (!lua_isnil(L, -1)) {
    luaL_error(L, "message field '%s': string expected, got %s", field, luaL_typename(L, -1));
  }
  lua_pop(L, 1);
  return s;
}

/* The string field with its length (bytes, NULs included), or NULL. */
static char *opt_bytes(lua_State *L, int t, const char *field, size_t *len) {
  lua_getfield(L, t, field);
  char *s = NULL;
  *len = 0;
  if (lua_type(L, -1) == LUA_TSTRING) {
    const char *p = lua_tolstring(L, -1, len);
    s = malloc(*len + 1);
    if (!s) luaL_error(L, "out of memory");
    memcpy(s, p, *len + 1);
  }
  lua_pop(L, 1);
  return s;
}

/* attachments = { { filename, content_type, content | path } }, already
 * checked by the façade; the token owns what is copied. */
static void check_attachments(lua_State *L, int idx, nh_message *m) {
  lua_getfield(L, idx, "attachments");
  int list = lua_gettop(L);
  size_t n = lua_istable(L, list) ? lnh_rawlen(L, list) : 0;
  if (n > 0) {
    m->attachments = calloc(n, sizeof *m->attachments);
    if (!m->attachments) luaL_error(L, "out of memory");
  }
  for (size_t i = 0; i < n; i++) {
    lua_rawgeti(L, list, (int)i + 1);
    luaL_checktype(L, -1, LUA_TTABLE);
    nh_attachment *a = &m->attachments[m->n_attachments++];
    int t = lua_gettop(L);
    a->filename = opt_string(L, t, "filename");
    a->content_type = opt_string(L, t, "content_type");
    a->path = opt_string(L, t, "path");
    a->content = opt_bytes(L, t, "content", &a->content_len);
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
}

static char **string_list(lua_State *L, int t, const char *field, size_t *n) {
  *n = 0;
  lua_getfield(L, t, field);
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    return NULL;
  }
  luaL_checktype(L, -1, LUA_TTABLE);
  size_t len = lnh_rawlen(L, -1);
  char **v = calloc(len ? len : 1, sizeof *v);
  if (!v) luaL_error(L, "out of memory");
  for (size_t i = 0; i < len; i++) {
    lua_rawgeti(L, -1, (int)i + 1);
    const char *s = lua_tostring(L, -1);
    v[i] = s ? strdup(s) : NULL;
    lua_pop(L, 1);
    if (!v[i]) {
      for (size_t j = 0; j < i; j++) free(v[j]);
      free(v);
      luaL_error(L, "message field '%s': strings expected", field);
    }
  }
  lua_pop(L, 1);
  *n = len;
  return v;
}

static cJSON *opt_json(lua_State *L, int t, const char *field);

static int check_overflow(lua_State *L, int t) {
  static const char *const names[] = { "truncate", "split", "error", NULL };
  lua_getfield(L, t, "overflow");
  int v = luaL_checkoption(L, -1, "truncate", names);
  lua_pop(L, 1);
  return v;
}

/* rate = { { count, per }, ... } */
static void check_rate(lua_State *L, int t, nh_target *target) {
  lua_getfield(L, t, "rate");
  if (lua_istable(L, -1)) {
    int n = (int)lnh_rawlen(L, -1);
    for (int i = 1; i <= n && target->n_rate < NH_MAX_RATE_RULES; i++) {
      lua_rawgeti(L, -1, i);
      lua_rawgeti(L, -1, 1);
      lua_rawgeti(L, -2, 2);
      int count = (int)lnh_check_range(L, -2, "rate.count"); /* checked before the cast */
      double per = lnh_check_range(L, -1, "rate.per");
      lua_pop(L, 3);
      target->rate[target->n_rate].count = count;
      target->rate[target->n_rate].per = per;
      target->n_rate++;
    }
  }
  lua_pop(L, 1);
}

static void check_target(lua_State *L, int t, nh_target *target) {
  lua_getfield(L, t, "platform");
  int id = lua_isstring(L, -1) ? nh_platform_from_name(lua_tostring(L, -1)) : -1;
  if (id < 0) luaL_error(L, "target: unknown platform '%s'", luaL_optstring(L, -1, "nil"));
  lua_pop(L, 1);
  target->platform = (nh_platform_id)id;
  target->url = opt_string(L, t, "url");
  target->label = opt_string(L, t, "label");
  target->secret = opt_string(L, t, "secret");
  target->method = opt_string(L, t, "method");
  target->headers = string_list(L, t, "headers", &target->n_headers);
  target->keywords = string_list(L, t, "keywords", &target->n_keywords);
  target->options = opt_json(L, t, "options");
  target->overflow = check_overflow(L, t);
  target->rate_key = opt_string(L, t, "rate_key");
  check_rate(L, t, target);
  target->secrets = string_list(L, t, "secrets", &target->n_secrets);
  nh_redact_string(target->label, target);
  if (!target->url) luaL_error(L, "target: url missing");
}

static cJSON *opt_json(lua_State *L, int t, const char *field) {
  char err[256];
  lua_getfield(L, t, field);
  cJSON *json = NULL;
  if (!lua_isnil(L, -1)) {
    json = lnh_to_json(L, -1, err, sizeof err);
    if (!json) luaL_error(L, "message field '%s': %s", field, err);
  }
  lua_pop(L, 1);
  return json;
}

/* retry = { max_attempts, initial_delay, ... }, any of them: each field over
 * the client's retry (its config, defaulted by the rows of nh_options.h). */
static void check_retry(lua_State *L, int idx, nh_client *c, nh_retry *r) {
  *r = nh_client_options(c)->retry;
  lua_getfield(L, idx, "retry");
  int t = lua_gettop(L);
  if (!lua_isnil(L, t)) {
    if (!lua_istable(L, t))
      luaL_error(L, "notifyhub: message retry: table expected, got %s", luaL_typename(L, t));
    lnh_retry_check(L, t, r);
  }
  lua_pop(L, 1);
}

nh_job *lnh_check_message(lua_State *L, int idx, nh_client *c, nh_code *code, char *err,
                          size_t errlen) {
  idx = lnh_absindex(L, idx);
  luaL_checktype(L, idx, LUA_TTABLE);
  lua_getfield(L, idx, "targets");
  luaL_checktype(L, -1, LUA_TTABLE);
  int targets = lua_gettop(L);
  size_t n = lnh_rawlen(L, targets);
  nh_job *job = nh_job_new(n);
  if (!job) luaL_error(L, "out of memory");
  lnh_job_push_token(L, job); /* owns the job from here on */
  nh_message *m = &job->msg;
  for (size_t i = 0; i < n; i++) {
    lua_rawgeti(L, targets, (int)i + 1);
    luaL_checktype(L, -1, LUA_TTABLE);
    check_target(L, lua_gettop(L), &m->targets[i]);
    lua_pop(L, 1);
  }
  m->id = opt_string(L, idx, "id");
  if (!m->id) {
    char id[64];
    nh_client_new_id(c, id, sizeof id);
    m->id = strdup(id);
    if (!m->id) luaL_error(L, "out of memory");
  }
  m->title = opt_string(L, idx, "title");
  m->body = opt_string(L, idx, "body");
  m->format = opt_string(L, idx, "format");
  lua_getfield(L, idx, "priority");
  lua_Number priority = luaL_optnumber(L, -1, NH_PRIORITY_NORMAL);
  if (!(priority >= 0 && priority <= 3))
    luaL_error(L, "notifyhub: message priority: 0 to 3 expected");
  m->priority = (int)priority;
  lua_pop(L, 1);
  lua_getfield(L, idx, "type");
  lua_Number type = luaL_optnumber(L, -1, NH_TYPE_NONE);
  if (!(type >= NH_TYPE_NONE && type <= NH_TYPE_FAILURE))
    luaL_error(L, "notifyhub: message type: 0 to 4 expected");
  m->type = (int)type;
  lua_pop(L, 1);
  lua_getfield(L, idx, "timeout");
  job->timeout = lua_isnil(L, -1) ? 0 : lnh_check_range(L, -1, "message.timeout");
  lua_pop(L, 1);
  check_retry(L, idx, c, &job->retry);
  m->metadata = opt_json(L, idx, "metadata");
  m->platform_data = opt_json(L, idx, "platform_data");
  check_attachments(L, idx, m);
  lua_remove(L, targets);                                    /* leaves the token on top */
  for (size_t i = 0; i < n && nh_message_plan_now(m); i++) { /* a large body: the worker */
    *code = nh_target_plan(m, &m->targets[i], err, errlen);
    if (*code != NH_OK) return NULL; /* the token frees the job */
  }
  return job;
}
