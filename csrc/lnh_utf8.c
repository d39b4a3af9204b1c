/*
 * lnh_utf8.c: UTF-8 checks for the façade. Every text a platform sends is
 * JSON or an e-mail labelled UTF-8, so a byte sequence that is not UTF-8
 * (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF, no
 * truncated sequence) is refused, or replaced by U+FFFD on request.
 */
#include <string.h>

#include "lnh_binding.h"

/* Bytes of the valid sequence at s (1..4), or minus the bytes of its
 * longest valid start (the "maximal subpart" one U+FFFD replaces). */
static int seq_len(const unsigned char *s, size_t n) {
  unsigned char c = s[0];
  if (c < 0x80) return 1;
  int len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
  if (c < 0xC2 || c > 0xF4) return -1; /* continuation, overlong C0/C1, F5.. */
  unsigned char lo = 0x80, hi = 0xBF;  /* allowed second byte */
  if (c == 0xE0) lo = 0xA0;            /* overlong */
  else if (c == 0xED) hi = 0x9F;       /* surrogates */
  else if (c == 0xF0) lo = 0x90;       /* overlong */
  else if (c == 0xF4) hi = 0x8F;       /* above U+10FFFF */
  for (int i = 1; i < len; i++) {
    if ((size_t)i >= n) return -i;
    unsigned char b = s[i];
    if (i == 1 ? (b < lo || b > hi) : (b < 0x80 || b > 0xBF)) return -i;
  }
  return len;
}

/* core.utf8_check(s) -> nil when s is UTF-8, else the 1-based offset of
 * the first byte that is not. */
static int lnh_utf8_check(lua_State *L) {
  size_t n;
  const unsigned char *s = (const unsigned char *)luaL_checklstring(L, 1, &n);
  for (size_t i = 0; i < n;) {
    int k = seq_len(s + i, n - i);
    if (k < 0) {
      lua_pushinteger(L, (lua_Integer)(i + 1));
      return 1;
    }
    i += (size_t)k;
  }
  lua_pushnil(L);
  return 1;
}

/* core.utf8_replace(s) -> s with each invalid sequence as U+FFFD */
static int lnh_utf8_replace(lua_State *L) {
  size_t n;
  const unsigned char *s = (const unsigned char *)luaL_checklstring(L, 1, &n);
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  size_t run = 0; /* start of the valid bytes not yet added */
  for (size_t i = 0; i < n;) {
    int k = seq_len(s + i, n - i);
    if (k > 0) {
      i += (size_t)k;
      continue;
    }
    luaL_addlstring(&b, (const char *)s + run, i - run); /* a run at once, not a char */
    luaL_addlstring(&b, "\xEF\xBF\xBD", 3);
    i += (size_t)-k;
    run = i;
  }
  luaL_addlstring(&b, (const char *)s + run, n - run);
  luaL_pushresult(&b);
  return 1;
}

void lnh_utf8_open(lua_State *L) {
  lua_pushcfunction(L, lnh_utf8_check);
  lua_setfield(L, -2, "utf8_check");
  lua_pushcfunction(L, lnh_utf8_replace);
  lua_setfield(L, -2, "utf8_replace");
}
