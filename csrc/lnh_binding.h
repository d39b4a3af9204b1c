/*
 * lnh_binding.h: what the binding's files share. The binding is the only C
 * that includes lua.h; it copies Lua values into core records and turns
 * finished jobs back into Lua tables.
 */
#ifndef LNH_BINDING_H
#define LNH_BINDING_H

#include "lnh_compat.h"
#include "nh_core.h"

#define LNH_CLIENT_MT "notifyhub.client"
#define LNH_JOB_MT "notifyhub.job"

/* A userdata type's metatable (liolib.c's createmeta): the metamethods in
 * meta, the methods in their own table behind __index. Leaves the stack
 * as it was. */
static inline void lnh_new_class(lua_State *L, const char *name, const luaL_Reg *meta,
                                 const luaL_Reg *methods) {
  luaL_newmetatable(L, name);
  luaL_setfuncs(L, meta, 0);
  lua_newtable(L);
  luaL_setfuncs(L, methods, 0);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
}

/* The value at idx as a new cJSON tree, or NULL with err filled. */
cJSON *lnh_to_json(lua_State *L, int idx, char *err, size_t errlen);

/* lnh_message.c: a normalised message table into a new job (pushes the
 * token that owns it). NULL with code and err when a target cannot take the
 * message (over its size limit with overflow = "error"). */
nh_job *lnh_check_message(lua_State *L, int idx, nh_client *c, nh_code *code, char *err,
                          size_t errlen);

/* lnh_job.c: the token a handle keeps for its job; finished jobs as receipts. */
void lnh_job_push_token(lua_State *L, nh_job *job);
void lnh_push_receipt(lua_State *L, const nh_job *job);
void lnh_job_open(lua_State *L);
nh_job *lnh_job_of(lua_State *L, int idx); /* NULL once released */

/* lnh_client.c */
void lnh_client_open(lua_State *L);

/* lnh_spool.c: core.spool_open, the spool inspector */
void lnh_spool_open_module(lua_State *L);

/* lnh_range.c: the number at idx, or a raised error naming path and its
 * range (nh_options.h, lnh_range.h). */
lua_Number lnh_check_range(lua_State *L, int idx, const char *path);
void lnh_range_push(lua_State *L);

/* lnh_options.c: core.new's table (t.async.workers, ...) into o, which
 * holds the defaults; a message's retry table over r; core.options. Each
 * raises naming the key ("async.workers") and its range. */
void lnh_options_check(lua_State *L, int t, nh_options *o);
void lnh_retry_check(lua_State *L, int t, nh_retry *r);
void lnh_options_push(lua_State *L);

/* lnh_utf8.c: core.utf8_check and core.utf8_replace */
void lnh_utf8_open(lua_State *L);

/* Pushes nil, message, CODE; returns 3. */
int lnh_fail(lua_State *L, nh_code code, const char *message);

#endif
