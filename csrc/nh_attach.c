/*
 * nh_attach.c: the files and bytes an e-mail attaches, and the rules they
 * follow. A path must name a regular file (no device, FIFO, socket or
 * directory: /dev/zero never ends and a FIFO blocks whoever opens it), its
 * real path (symlinks resolved) must lie inside the target's
 * attachments_dir when one is set, and all attachments of a message
 * together hold at most attachments_max_bytes (default 25 MiB).
 *
 * Checked twice: at submit with stat() only (cheap, so send_async refuses
 * at once), and by the worker that reads the file for each attempt, with
 * open(O_NONBLOCK | O_NOFOLLOW) and fstat() on what it opened (the file
 * may have changed since), reading no more than the limit allows and
 * giving up when the message's deadline passes. Errors name the
 * attachment by its filename and say why; never the file's content.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nh_internal.h"

#define DEFAULT_MAX ((size_t)25 * 1024 * 1024)
#define MAX_NAME 255 /* bytes of a filename or content type */
#define CHUNK 65536

size_t nh_attach_limit(const nh_target *t) {
  long n;
  if (nh_json_code(nh_opt_item(t, "attachments_max_bytes"), &n) && n >= 0) return (size_t)n;
  return DEFAULT_MAX;
}

/* strerror() is not promised to be thread-safe; these are the cases. */
static const char *why_errno(int e) {
  switch (e) {
  case ENOENT:
  case ENOTDIR: return "no such file";
  case EACCES:
  case EPERM: return "permission denied";
  case ELOOP: return "a symbolic link loop, or a link where none may be";
  case ENAMETOOLONG: return "the path is too long";
  default: return "it cannot be read";
  }
}

static nh_code fail(char *err, size_t errlen, const nh_attachment *a, const char *why) {
  snprintf(err, errlen, "email: attachment '%.100s': %s", a->filename ? a->filename : "?", why);
  return NH_INVALID_MESSAGE;
}

static nh_code too_large(const nh_attachment *a, size_t limit, char *err, size_t errlen) {
  char why[160];
  snprintf(
    why, sizeof why,
    "over the limit: the attachments of a message may total %zu bytes (attachments_max_bytes)",
    limit);
  return fail(err, errlen, a, why);
}

/* Adds size to *total; refuses when that passes the limit. */
static nh_code count(const nh_target *t, const nh_attachment *a, size_t size, size_t *total,
                     char *err, size_t errlen) {
  size_t limit = nh_attach_limit(t);
  if (*total > limit || size > limit - *total) return too_large(a, limit, err, errlen);
  *total += size;
  return NH_OK;
}

/* The real path of a's file, inside attachments_dir when one is set; NULL
 * with err set otherwise. The caller frees it. */
static char *real_path(const nh_target *t, const nh_attachment *a, char *err, size_t errlen) {
  const char *dir = nh_opt_string(t, "attachments_dir");
  /* A relative path is relative to attachments_dir when there is one: not
   * to the working directory, which may change before the worker reads. */
  char *joined = dir && a->path[0] != '/' ? nh_sprintf("%s/%s", dir, a->path) : NULL;
  if (dir && a->path[0] != '/' && !joined) {
    fail(err, errlen, a, "out of memory");
    return NULL;
  }
  char *real = realpath(joined ? joined : a->path, NULL);
  int e = errno;
  free(joined);
  if (!real) {
    fail(err, errlen, a, why_errno(e));
    return NULL;
  }
  if (!dir) return real;
  char *root = realpath(dir, NULL);
  size_t n = root ? strlen(root) : 0;
  int inside = root && strncmp(real, root, n) == 0 && (real[n] == '/' || root[n - 1] == '/');
  if (!inside)
    fail(err, errlen, a,
         root ? "outside attachments_dir" : "outside attachments_dir (which does not exist)");
  free(root);
  if (inside) return real;
  free(real);
  return NULL;
}

static int header_text_ok(const char *s) {
  if (!s || !*s || strlen(s) > MAX_NAME || strpbrk(s, "\"\\")) return 0;
  for (; *s; s++)
    if ((unsigned char)*s < 0x20 || *s == 0x7f) return 0; /* CR, LF, any control */
  return 1;
}

/* type/subtype as written into the header: printable ASCII, no blank. */
static int content_type_ok(const char *s) {
  if (!header_text_ok(s) || strchr(s, ';')) return 0;
  for (; *s; s++)
    if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f) return 0;
  return 1;
}

static nh_code check_one(const nh_target *t, const nh_attachment *a, size_t *total, char *err,
                         size_t errlen) {
  if (!header_text_ok(a->filename))
    return fail(
      err, errlen, a,
      "a filename of 1 to 255 bytes without control characters, quotes or backslashes expected");
  if (a->content_type && !content_type_ok(a->content_type))
    return fail(
      err, errlen, a,
      "a content_type of 1 to 255 printable ASCII bytes without blanks, quotes or ';' expected");
  if (!a->path == !a->content)
    return fail(err, errlen, a, "exactly one of content and path expected");
  if (a->content) return count(t, a, a->content_len, total, err, errlen);
  char *real = real_path(t, a, err, errlen);
  if (!real) return NH_INVALID_MESSAGE;
  struct stat st;
  int rc = stat(real, &st), e = errno;
  free(real);
  if (rc != 0) return fail(err, errlen, a, why_errno(e));
  if (!S_ISREG(st.st_mode)) return fail(err, errlen, a, "not a regular file");
  return count(t, a, (size_t)st.st_size, total, err, errlen);
}

nh_code nh_attach_check(const nh_message *m, const nh_target *t, char *err, size_t errlen) {
  size_t total = 0;
  for (size_t i = 0; i < m->n_attachments; i++) {
    nh_code rc = check_one(t, &m->attachments[i], &total, err, errlen);
    if (rc != NH_OK) return rc;
  }
  return NH_OK;
}

/* Reads the open regular file fd into out: at most room bytes (the file
 * may have grown since it was measured), and not past the deadline. */
static nh_code read_all(int fd, const nh_message *m, const nh_attachment *a, size_t room,
                        size_t limit, nh_buf *out, char *err, size_t errlen) {
  char *chunk = malloc(CHUNK);
  nh_code rc = chunk ? NH_OK : NH_NO_MEMORY;
  while (rc == NH_OK) {
    if (m->deadline > 0 && nh_now() > m->deadline) {
      snprintf(err, errlen,
               "email: attachment '%.100s': the message's deadline passed while reading it",
               a->filename);
      rc = NH_TIMEOUT;
      break;
    }
    ssize_t n = read(fd, chunk, CHUNK);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) rc = fail(err, errlen, a, why_errno(errno));
    if (n <= 0) break;
    if (out->len + (size_t)n > room) rc = too_large(a, limit, err, errlen);
    else if (nh_buf_add(out, chunk, (size_t)n)) rc = NH_NO_MEMORY;
  }
  free(chunk);
  return rc;
}

/* Opens the resolved path real (absolute, no "." or ".." and no link, as
 * realpath() gives it) one name at a time without following any link: a
 * directory on the way that was swapped for a link since it was resolved
 * (and checked against attachments_dir) makes the open fail, instead of
 * leading out of the directory. O_NONBLOCK: opening a FIFO that slipped in
 * since the check returns at once. -1 with errno set on failure. */
static int open_resolved(const char *real) {
  char *path = nh_strdup(real);
  int dir = path ? open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
  int fd = -1, e = path ? errno : ENOMEM;
  char *name = path ? path + 1 : NULL;
  while (dir >= 0) {
    char *slash = strchr(name, '/');
    if (slash) *slash = '\0';
    int flags = slash ? O_RDONLY | O_DIRECTORY : O_RDONLY | O_NONBLOCK | O_NOCTTY;
    int next = openat(dir, name, flags | O_NOFOLLOW | O_CLOEXEC);
    e = errno;
    close(dir);
    if (!slash) {
      fd = next;
      break;
    }
    dir = next;
    name = slash + 1;
  }
  free(path);
  errno = e;
  return fd;
}

/* The worker's read of a path attachment into out (empty on entry). */
static nh_code read_file(const nh_message *m, const nh_target *t, const nh_attachment *a,
                         size_t *total, nh_buf *out, char *err, size_t errlen) {
  char *real = real_path(t, a, err, errlen);
  if (!real) return NH_INVALID_MESSAGE;
  int fd = open_resolved(real);
  int e = errno;
  free(real);
  if (fd < 0) return fail(err, errlen, a, why_errno(e));
  struct stat st;
  size_t limit = nh_attach_limit(t);
  nh_code rc = NH_OK;
  if (fstat(fd, &st) != 0) rc = fail(err, errlen, a, why_errno(errno));
  else if (!S_ISREG(st.st_mode)) rc = fail(err, errlen, a, "not a regular file");
  else if (*total > limit || (size_t)st.st_size > limit - *total)
    rc = too_large(a, limit, err, errlen);
  else rc = read_all(fd, m, a, limit - *total, limit, out, err, errlen);
  if (rc == NH_OK) *total += out->len;
  close(fd); /* a regular file: never blocks */
  return rc;
}

nh_code nh_attach_load(const nh_message *m, const nh_target *t, const nh_attachment *a,
                       size_t *total, nh_buf *out, char *err, size_t errlen) {
  if (a->content) {
    nh_code rc = count(t, a, a->content_len, total, err, errlen);
    if (rc == NH_OK && nh_buf_add(out, a->content, a->content_len)) rc = NH_NO_MEMORY;
    return rc;
  }
  if (!a->path) return fail(err, errlen, a, "exactly one of content and path expected");
  return read_file(m, t, a, total, out, err, errlen);
}
