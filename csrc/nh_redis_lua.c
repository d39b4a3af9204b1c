/*
 * nh_redis_lua.c: the Redis spool's scripts (Lua, run by Redis: each call
 * is atomic). Every script is the prelude (the key names, the counts,
 * moving a record between the queue, the due set and a holder) followed by
 * its body; nh_redis.c loads each once per connection (SCRIPT LOAD) and
 * calls it by its SHA1 (EVALSHA). The data model is nh_redis.c's header.
 *
 * Every script's ARGV begins prefix, owner (the consumer name), now (wall
 * seconds); the rest is the body's, as its first comment says.
 */
#include <stdlib.h>
#include <string.h>

#include "nh_redis.h"

static const char prelude[] =
  "local P, ME, NOW = ARGV[1], ARGV[2], tonumber(ARGV[3])\n"
  "local G = 'workers'\n"
  "local function K(s) return P .. ':' .. s end\n"
  "local STREAMS = { K('h'), K('q:3'), K('q:2'), K('q:1'), K('q:0') }\n"
  "local function labels(s)\n"
  "  local ok, t = pcall(cjson.decode, s or '[]')\n"
  "  if ok and type(t) == 'table' then return t end\n"
  "  return {}\n"
  "end\n"
  "-- the totals (K'n': q, t, f) and the per-label counts (K'lab': state .. label)\n"
  "local function count(lb, state, d)\n"
  "  redis.call('HINCRBY', K('n'), state, d)\n"
  "  for _, l in ipairs(lb) do\n"
  "    if type(l) == 'string' and redis.call('HINCRBY', K('lab'), state .. l, d) <= 0 then\n"
  "      redis.call('HDEL', K('lab'), state .. l)\n"
  "    end\n"
  "  end\n"
  "end\n"
  "local function move(m, from, to)\n"
  "  local lb = labels(redis.call('HGET', m, 'lb'))\n"
  "  if from then count(lb, from, -1) end\n"
  "  if to then count(lb, to, 1) end\n"
  "end\n"
  "local function qkey(pri)\n"
  "  local p = tonumber(pri) or 1\n"
  "  if p < 0 then p = 0 elseif p > 3 then p = 3 end\n"
  "  return K('q:' .. p)\n"
  "end\n"
  "-- its stream entry acknowledged and deleted\n"
  "local function unlink(m)\n"
  "  local f = redis.call('HMGET', m, 'k', 'e')\n"
  "  if f[1] and f[1] ~= '' then\n"
  "    redis.call('XACK', f[1], G, f[2])\n"
  "    redis.call('XDEL', f[1], f[2])\n"
  "  end\n"
  "end\n"
  "-- queued: in its priority's stream when due, else in the due set\n"
  "local function queue(seq, m)\n"
  "  local f = redis.call('HMGET', m, 'pri', 'due')\n"
  "  local due = tonumber(f[2]) or 0\n"
  "  if due <= NOW then\n"
  "    local k = qkey(f[1])\n"
  "    redis.call('HSET', m, 'k', k, 'e', redis.call('XADD', k, '*', 's', seq), 'o', '', 'st', 'q')\n"
  "  else\n"
  "    redis.call('ZADD', K('due'), due, seq)\n"
  "    redis.call('HSET', m, 'k', '', 'e', '', 'o', '', 'st', 'q')\n"
  "  end\n"
  "end\n"
  "local function mine(m)\n"
  "  local f = redis.call('HMGET', m, 'o', 'st')\n"
  "  return f[1] == ME and f[2] == 't'\n"
  "end\n"
  "local function drop_failed(seq)\n"
  "  local m = K('m:' .. seq)\n"
  "  redis.call('ZREM', K('failed'), seq)\n"
  "  if redis.call('HGET', m, 'st') ~= 'f' then return 0 end\n"
  "  move(m, 'f', nil)\n"
  "  redis.call('DEL', m, K('p:' .. seq))\n"
  "  return 1\n"
  "end\n"
  "local function claim_args(k, ids, from, to, min_idle, justid)\n"
  "  local a = { 'XCLAIM', k, G, ME, min_idle }\n"
  "  for x = from, to do a[#a + 1] = ids[x] end\n"
  "  if justid then a[#a + 1] = 'JUSTID' end\n"
  "  return a\n"
  "end\n";

static const char put_lua[] =
  "-- ARGV[4]: max_queued; then per item: id, priority, attempt, due, labels, data, take, group\n"
  "local MAX = tonumber(ARGV[4])\n"
  "local c = redis.call('HMGET', K('n'), 'q', 't')\n"
  "local open = (tonumber(c[1]) or 0) + (tonumber(c[2]) or 0)\n"
  "local out, held, i, N = {}, 0, 5, #ARGV\n"
  "while i <= N do\n"
  "  local j, k = i, 0\n"
  "  while j <= N and ARGV[j + 7] == ARGV[i + 7] do j, k = j + 8, k + 1 end\n"
  "  if open + k > MAX then\n"
  "    for _ = 1, k do out[#out + 1] = 0 end\n"
  "  else\n"
  "    open = open + k\n"
  "    local seq = redis.call('INCRBY', K('seq'), k) - k\n"
  "    for x = i, j - 1, 8 do\n"
  "      seq = seq + 1\n"
  "      local s = string.format('%.0f', seq)\n"
  "      local m = K('m:' .. s)\n"
  "      redis.call('HSET', m, 'id', ARGV[x], 'pri', ARGV[x + 1], 'att', ARGV[x + 2], 'due',\n"
  "        ARGV[x + 3], 'lb', ARGV[x + 4], 'd', ARGV[x + 5], 'cr', ARGV[3], 'prod', ME)\n"
  "      if ARGV[x + 6] == '1' then\n"
  "        count(labels(ARGV[x + 4]), 't', 1)\n"
  "        redis.call('XADD', K('h'), '*', 's', s)\n"
  "        held = held + 1\n"
  "      else\n"
  "        count(labels(ARGV[x + 4]), 'q', 1)\n"
  "        queue(s, m)\n"
  "      end\n"
  "      out[#out + 1] = seq\n"
  "    end\n"
  "  end\n"
  "  i = j\n"
  "end\n"
  "-- taken by this owner at once: every earlier entry of K'h' was read the same way\n"
  "if held > 0 then\n"
  "  local r = redis.call('XREADGROUP', 'GROUP', G, ME, 'COUNT', held, 'STREAMS', K('h'), '>')\n"
  "  for _, e in ipairs(r[1][2]) do\n"
  "    redis.call('HSET', K('m:' .. e[2][2]), 'k', K('h'), 'e', e[1], 'o', ME, 'st', 't')\n"
  "  end\n"
  "end\n"
  "return out\n";

static const char finish_lua[] =
  "-- per end: seq, how (0 delivered, 1 failed, 2 again, 3 target, 4 park), receipt, due,\n"
  "-- attempt, target, kind; returns held (1/0) per end\n"
  "local out = {}\n"
  "for x = 4, #ARGV, 7 do\n"
  "  local seq, how, receipt = ARGV[x], ARGV[x + 1], ARGV[x + 2]\n"
  "  local m = K('m:' .. seq)\n"
  "  local held = mine(m)\n"
  "  if held and (how == '0' or how == '1') then\n"
  "    local f = redis.call('HMGET', m, 'prod', 'id')\n"
  "    unlink(m)\n"
  "    if how == '0' then\n"
  "      move(m, 't', nil)\n"
  "      redis.call('DEL', m, K('p:' .. seq))\n"
  "    else\n"
  "      move(m, 't', 'f')\n"
  "      redis.call('HSET', m, 'st', 'f', 'o', '', 'k', '', 'e', '', 'fa', ARGV[3], 'rc', receipt)\n"
  "      redis.call('ZADD', K('failed'), NOW, seq)\n"
  "      local p = K('p:' .. seq)\n"
  "      local all = redis.call('HGETALL', p)\n"
  "      for y = 1, #all, 2 do\n"
  "        if not string.find(all[y + 1], '^%[%-?%d+,1,') then redis.call('HDEL', p, all[y]) end\n"
  "      end\n"
  "    end\n"
  "    -- the receipt goes back to the producer when another owner ended it\n"
  "    if receipt ~= '' and f[1] and f[1] ~= ME then\n"
  "      local r = K('r:' .. f[1])\n"
  "      redis.call('XADD', r, 'MAXLEN', '~', 100000, '*', 's', seq, 'i', f[2] or '', 'r', receipt)\n"
  "      redis.call('EXPIRE', r, 86400)\n"
  "    end\n"
  "  elseif held and how == '2' then\n"
  "    unlink(m)\n"
  "    redis.call('HSET', m, 'due', ARGV[x + 3], 'att', ARGV[x + 4])\n"
  "    move(m, 't', 'q')\n"
  "    queue(seq, m)\n"
  "  elseif held and how == '3' then\n"
  "    redis.call('HSET', K('p:' .. seq), ARGV[x + 5],\n"
  "      '[' .. ARGV[x + 5] .. ',' .. ARGV[x + 6] .. ',' .. receipt .. ']')\n"
  "  elseif held then -- park: still held (renewed), due and attempt kept for a release\n"
  "    redis.call('HSET', m, 'due', ARGV[x + 3], 'att', ARGV[x + 4])\n"
  "  end\n"
  "  out[#out + 1] = held and 1 or 0\n"
  "end\n"
  "return out\n";

static const char take_lua[] =
  "-- ARGV[4]: max, ARGV[5]: lease (ms), ARGV[6]: keep_failed (s); returns records\n"
  "-- {seq, id, attempt, due, data, progress}\n"
  "local MAX, LEASE, KEEP = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])\n"
  "for _, seq in ipairs(redis.call('ZRANGEBYSCORE', K('failed'), '-inf', '(' .. (NOW - KEEP),\n"
  "  'LIMIT', 0, 256)) do\n"
  "  drop_failed(seq)\n"
  "end\n"
  "for _, seq in ipairs(redis.call('ZRANGEBYSCORE', K('due'), '-inf', NOW, 'LIMIT', 0, 1024)) do\n"
  "  redis.call('ZREM', K('due'), seq)\n"
  "  local m = K('m:' .. seq)\n"
  "  if redis.call('HGET', m, 'st') == 'q' then queue(seq, m) end\n"
  "end\n"
  "local out = {}\n"
  "local function take(seq, k, e, fresh)\n"
  "  local m = K('m:' .. seq)\n"
  "  local f = redis.call('HMGET', m, 'id', 'att', 'due', 'd', 'e')\n"
  "  if not f[1] or f[5] ~= e then -- an entry left of a record that moved on or went\n"
  "    redis.call('XACK', k, G, e)\n"
  "    redis.call('XDEL', k, e)\n"
  "    return\n"
  "  end\n"
  "  if fresh then move(m, 'q', 't') end\n"
  "  redis.call('HSET', m, 'o', ME, 'st', 't')\n"
  "  local pv = redis.call('HVALS', K('p:' .. seq))\n"
  "  out[#out + 1] = { seq, f[1], f[2], f[3], f[4], #pv > 0 and ('[' .. table.concat(pv, ',') .. ']') or '' }\n"
  "end\n"
  "-- what holders that stopped renewing left (idle past the lease)\n"
  "for _, k in ipairs(STREAMS) do\n"
  "  if #out >= MAX then break end\n"
  "  local ids = {}\n"
  "  for _, p in ipairs(redis.call('XPENDING', k, G, 'IDLE', LEASE, '-', '+', MAX - #out + 64)) do\n"
  "    if p[2] ~= ME and #ids < MAX - #out then ids[#ids + 1] = p[1] end\n"
  "  end\n"
  "  if #ids > 0 then\n"
  "    for _, e in ipairs(redis.call(unpack(claim_args(k, ids, 1, #ids, LEASE, false)))) do\n"
  "      if type(e) == 'table' and type(e[2]) == 'table' then take(e[2][2], k, e[1], false) end\n"
  "    end\n"
  "  end\n"
  "end\n"
  "for pri = 3, 0, -1 do\n"
  "  if #out >= MAX then break end\n"
  "  local k = K('q:' .. pri)\n"
  "  local r = redis.call('XREADGROUP', 'GROUP', G, ME, 'COUNT', MAX - #out, 'STREAMS', k, '>')\n"
  "  if r then\n"
  "    for _, e in ipairs(r[1][2]) do take(e[2][2], k, e[1], true) end\n"
  "  end\n"
  "end\n"
  "return out\n";

static const char renew_lua[] =
  "-- resets the idle time of everything this owner holds; returns how many\n"
  "local n = 0\n"
  "for _, k in ipairs(STREAMS) do\n"
  "  local ids = {}\n"
  "  for _, p in ipairs(redis.call('XPENDING', k, G, '-', '+', 1000000, ME)) do ids[#ids + 1] = p[1] end\n"
  "  for a = 1, #ids, 1000 do\n"
  "    n = n + #redis.call(unpack(claim_args(k, ids, a, math.min(a + 999, #ids), 0, true)))\n"
  "  end\n"
  "end\n"
  "return n\n";

static const char unpark_lua[] =
  "-- ARGV[4]: seq; 1 when this owner still holds it (its lease renewed)\n"
  "local m = K('m:' .. ARGV[4])\n"
  "if not mine(m) then return 0 end\n"
  "local f = redis.call('HMGET', m, 'k', 'e')\n"
  "if f[1] and f[1] ~= '' then redis.call('XCLAIM', f[1], G, ME, 0, f[2], 'JUSTID') end\n"
  "return 1\n";

static const char release_lua[] =
  "-- everything this owner holds queued again (same id, attempt; a parked one at its due\n"
  "-- time); the owner leaves the group; returns how many\n"
  "local n = 0\n"
  "for _, k in ipairs(STREAMS) do\n"
  "  for _, p in ipairs(redis.call('XPENDING', k, G, '-', '+', 1000000, ME)) do\n"
  "    local r = redis.call('XRANGE', k, p[1], p[1])\n"
  "    local seq = r[1] and r[1][2][2]\n"
  "    local m = seq and K('m:' .. seq)\n"
  "    if m and mine(m) and redis.call('HGET', m, 'e') == p[1] then\n"
  "      unlink(m)\n"
  "      move(m, 't', 'q')\n"
  "      queue(seq, m)\n"
  "      n = n + 1\n"
  "    else\n"
  "      redis.call('XACK', k, G, p[1])\n"
  "    end\n"
  "  end\n"
  "  redis.call('XGROUP', 'DELCONSUMER', k, G, ME)\n"
  "end\n"
  "return n\n";

static const char rate_lua[] =
  "-- ARGV[4]: key, ARGV[5]: a member unique to this send, then count, per of each rule.\n"
  "-- Redis's own clock: hosts with skewed clocks share one window. Returns the wait (s).\n"
  "local t = redis.call('TIME')\n"
  "local now = tonumber(t[1]) + tonumber(t[2]) / 1e6\n"
  "local k = K('rate:' .. ARGV[4])\n"
  "local wait, longest = 0, 0\n"
  "for x = 6, #ARGV - 1, 2 do\n"
  "  local c, per = tonumber(ARGV[x]), tonumber(ARGV[x + 1])\n"
  "  if c and per and c >= 1 and per > 0 then\n"
  "    local r = redis.call('ZREVRANGE', k, c - 1, c - 1, 'WITHSCORES')\n"
  "    if r[2] then\n"
  "      local free = tonumber(r[2]) + per + 0.02\n"
  "      if free - now > wait then wait = free - now end\n"
  "    end\n"
  "    if per > longest then longest = per end\n"
  "  end\n"
  "end\n"
  "if wait == 0 and longest > 0 then\n"
  "  redis.call('ZADD', k, string.format('%.6f', now), ARGV[5])\n"
  "  redis.call('ZREMRANGEBYSCORE', k, '-inf', string.format('(%.6f', now - longest - 0.02))\n"
  "  redis.call('PEXPIRE', k, math.ceil((longest + 1) * 1000))\n"
  "end\n"
  "return string.format('%.6f', wait)\n";

static const char failed_lua[] =
  "-- ARGV[4]: limit; the oldest failures {id, receipt, failed_at}\n"
  "local out = {}\n"
  "local r = redis.call('ZRANGE', K('failed'), 0, tonumber(ARGV[4]) - 1, 'WITHSCORES')\n"
  "for x = 1, #r, 2 do\n"
  "  local f = redis.call('HMGET', K('m:' .. r[x]), 'id', 'rc')\n"
  "  if f[1] then out[#out + 1] = { f[1], f[2] or '{}', r[x + 1] } end\n"
  "end\n"
  "return out\n";

static const char retry_lua[] =
  "-- ARGV[4]: id; its failed records queued again, due now, attempt 0\n"
  "local n = 0\n"
  "for _, seq in ipairs(redis.call('ZRANGE', K('failed'), 0, -1)) do\n"
  "  local m = K('m:' .. seq)\n"
  "  if redis.call('HGET', m, 'id') == ARGV[4] then\n"
  "    redis.call('ZREM', K('failed'), seq)\n"
  "    move(m, 'f', 'q')\n"
  "    redis.call('HSET', m, 'att', 0, 'due', ARGV[3])\n"
  "    redis.call('HDEL', m, 'fa', 'rc')\n"
  "    queue(seq, m)\n"
  "    n = n + 1\n"
  "  end\n"
  "end\n"
  "return n\n";

static const char purge_lua[] =
  "local n = 0\n"
  "for _, seq in ipairs(redis.call('ZRANGE', K('failed'), 0, -1)) do n = n + drop_failed(seq) end\n"
  "return n\n";

static const char receipts_lua[] =
  "-- ARGV[4]: max; this owner's receipts {seq, id, receipt}, read and deleted\n"
  "local k = K('r:' .. ME)\n"
  "local out = {}\n"
  "for _, e in ipairs(redis.call('XRANGE', k, '-', '+', 'COUNT', tonumber(ARGV[4]))) do\n"
  "  redis.call('XDEL', k, e[1])\n"
  "  local f = {}\n"
  "  for y = 1, #e[2], 2 do f[e[2][y]] = e[2][y + 1] end\n"
  "  out[#out + 1] = { f.s or '0', f.i or '', f.r or '{}' }\n"
  "end\n"
  "return out\n";

static const char stats_lua[] =
  "return { redis.call('HGETALL', K('n')), redis.call('HGETALL', K('lab')) }\n";

static const char *const bodies[NH_RS_COUNT] = {
  [NH_RS_PUT] = put_lua,         [NH_RS_FINISH] = finish_lua,   [NH_RS_TAKE] = take_lua,
  [NH_RS_RENEW] = renew_lua,     [NH_RS_UNPARK] = unpark_lua,   [NH_RS_RELEASE] = release_lua,
  [NH_RS_RATE] = rate_lua,       [NH_RS_FAILED] = failed_lua,   [NH_RS_RETRY] = retry_lua,
  [NH_RS_PURGE] = purge_lua,     [NH_RS_RECEIPTS] = receipts_lua, [NH_RS_STATS] = stats_lua,
};

char *nh_redis_script(int i) {
  if (i < 0 || i >= NH_RS_COUNT) return NULL;
  size_t a = sizeof prelude - 1, b = strlen(bodies[i]);
  char *s = malloc(a + b + 1);
  if (!s) return NULL;
  memcpy(s, prelude, a);
  memcpy(s + a, bodies[i], b + 1);
  return s;
}
