/*
 * nh_redis_url.c: spool.redis ("redis://[user:password@]host[:port][/db]")
 * and spool.prefix. Errors name the part that is wrong and never repeat
 * the password (nor the URL, which holds it).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nh_redis_store.h"

static int fail(char *err, size_t errlen, const char *why) {
  if (err && errlen) snprintf(err, errlen, "spool.redis: %s", why);
  return -1;
}

static int hex(int c) {
  return c >= '0' && c <= '9'   ? c - '0'
         : c >= 'a' && c <= 'f' ? c - 'a' + 10
         : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                : -1;
}

/* s[0..len) percent-decoded into out (NUL-terminated); -1 when it does
 * not fit or a %XX is malformed or decodes to NUL. */
static int decode(const char *s, size_t len, char *out, size_t outlen) {
  size_t o = 0;
  for (size_t i = 0; i < len; i++) {
    int c = (unsigned char)s[i];
    if (c == '%') {
      int h = i + 2 < len ? hex(s[i + 1]) : -1, l = i + 2 < len ? hex(s[i + 2]) : -1;
      if (h < 0 || l < 0 || (h | l) == 0) return -1;
      c = h * 16 + l;
      i += 2;
    }
    if (o + 1 >= outlen) return -1;
    out[o++] = (char)c;
  }
  out[o] = '\0';
  return 0;
}

/* [user[:password]@]: fills u->user and u->password; *rest after the '@'. */
static int parse_userinfo(const char **rest, nh_redis_url *u, char *err, size_t errlen) {
  const char *s = *rest, *at = NULL;
  for (const char *p = s; *p && *p != '/'; p++)
    if (*p == '@') at = p; /* the last '@' before the path: a password may hold one */
  if (!at) return 0;
  const char *colon = memchr(s, ':', (size_t)(at - s));
  size_t ulen = colon ? (size_t)(colon - s) : (size_t)(at - s);
  if (decode(s, ulen, u->user, sizeof u->user) != 0)
    return fail(err, errlen, "the user name is too long or has a bad %-escape");
  if (colon && decode(colon + 1, (size_t)(at - colon - 1), u->password, sizeof u->password) != 0)
    return fail(err, errlen, "the password is too long or has a bad %-escape");
  *rest = at + 1;
  return 0;
}

static int parse_number(const char *s, size_t len, long max, long *out) {
  if (len == 0 || len > 10) return -1;
  long v = 0;
  for (size_t i = 0; i < len; i++) {
    if (!isdigit((unsigned char)s[i])) return -1;
    v = v * 10 + (s[i] - '0');
  }
  if (v > max) return -1;
  *out = v;
  return 0;
}

/* host[:port], "[v6]" or "[v6]:port"; *rest after it. */
static int parse_host(const char **rest, nh_redis_url *u, char *err, size_t errlen) {
  const char *s = *rest, *end;
  size_t hlen;
  if (*s == '[') {
    end = strchr(s, ']');
    if (!end) return fail(err, errlen, "the host: an IPv6 address without its ']'");
    s++;
    hlen = (size_t)(end - s);
    end++;
  } else {
    end = s + strcspn(s, ":/");
    hlen = (size_t)(end - s);
  }
  if (hlen == 0 || hlen >= sizeof u->host)
    return fail(err, errlen, "the host is missing or too long");
  for (size_t i = 0; i < hlen; i++)
    if (!isalnum((unsigned char)s[i]) && !strchr(".-_:", s[i]))
      return fail(err, errlen, "the host: letters, digits, '.', '-' expected (or [IPv6])");
  memcpy(u->host, s, hlen);
  u->host[hlen] = '\0';
  u->port = 6379;
  if (*end == ':') {
    const char *p = end + 1;
    size_t plen = strcspn(p, "/");
    long port;
    if (parse_number(p, plen, 65535, &port) != 0 || port == 0)
      return fail(err, errlen, "the port: a number from 1 to 65535 expected");
    u->port = (int)port;
    end = p + plen;
  }
  *rest = end;
  return 0;
}

static int parse_db(const char *s, nh_redis_url *u, char *err, size_t errlen) {
  u->db = 0;
  if (*s == '\0' || (s[0] == '/' && s[1] == '\0')) return 0;
  long db;
  if (s[0] != '/' || parse_number(s + 1, strlen(s + 1), 1000000, &db) != 0)
    return fail(err, errlen, "the database number (/db): 0 to 1000000 expected after the host");
  u->db = (int)db;
  return 0;
}

int nh_redis_url_parse(const char *url, nh_redis_url *u, char *err, size_t errlen) {
  memset(u, 0, sizeof *u);
  if (!url || !*url)
    return fail(err, errlen, "a URL redis://host:port/db expected, got an empty one");
  if (strncmp(url, "rediss://", 9) == 0)
    return fail(err, errlen,
                "rediss:// (TLS) is not supported: Debian's hiredis 0.14 has no TLS; reach Redis "
                "over a private network, or through a local stunnel or spiped, with redis://");
  if (strncmp(url, "redis://", 8) != 0)
    return fail(err, errlen, "the scheme: a URL beginning redis:// expected");
  for (const char *p = url; *p; p++)
    if ((unsigned char)*p <= ' ' || *p == 0x7f)
      return fail(err, errlen, "no spaces or control characters expected in the URL");
  const char *rest = url + 8;
  if (parse_userinfo(&rest, u, err, errlen) != 0 || parse_host(&rest, u, err, errlen) != 0 ||
      parse_db(rest, u, err, errlen) != 0) {
    memset(u->password, 0, sizeof u->password);
    return -1;
  }
  /* What errors show: no user or password (the auth error names the user). */
  if (strchr(u->host, ':'))
    snprintf(u->path, sizeof u->path, "redis://[%s]:%d/%d", u->host, u->port, u->db);
  else snprintf(u->path, sizeof u->path, "redis://%s:%d/%d", u->host, u->port, u->db);
  return 0;
}

int nh_redis_prefix_ok(const char *prefix) {
  size_t n = prefix ? strlen(prefix) : 0;
  if (n < 1 || n > 64) return 0;
  for (size_t i = 0; i < n; i++)
    if (!isalnum((unsigned char)prefix[i]) && !strchr("_.:-", prefix[i])) return 0;
  return 1;
}
