/*
 * nh_spool_dir.c: a directory of this user's own for a spool file that
 * nobody named (notifyhub.ngx's shared rate windows). In a directory any
 * user may write (/dev/shm, /tmp), a predictable name could be made first
 * by someone else, as a directory they can read or a symlink: such a
 * directory is refused, never used.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nh_core.h"

int nh_spool_private_dir(const char *base, char *out, size_t outlen, char *err, size_t errlen) {
  uid_t uid = geteuid();
  int n = snprintf(out, outlen, "%s/notifyhub-%lu", base, (unsigned long)uid);
  if (n < 0 || (size_t)n >= outlen) {
    snprintf(err, errlen, "%s: name too long", base);
    return -1;
  }
  if (mkdir(out, 0700) != 0 && errno != EEXIST) {
    snprintf(err, errlen, "%s: cannot be made: %s", out, strerror(errno));
    return -1;
  }
  struct stat st;
  if (lstat(out, &st) != 0) {
    snprintf(err, errlen, "%s: %s", out, strerror(errno));
    return -1;
  }
  if (!S_ISDIR(st.st_mode) || st.st_uid != uid || (st.st_mode & 077) != 0) {
    snprintf(err, errlen, "%s: not a directory of uid %lu closed to others (mode 0700)", out,
             (unsigned long)uid);
    return -1;
  }
  return 0;
}
