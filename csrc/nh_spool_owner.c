/*
 * nh_spool_owner.c: who holds the spool's records, and taking over what a
 * dead holder held.
 *
 * A holder is one nh_spool handle: an owner id, the host it runs on, its
 * pid and the start time of that process (/proc/<pid>/stat field 22, clock
 * ticks since boot). The host id is /etc/machine-id (else the hostname)
 * and the pid namespace: two containers that share a spool file and an
 * image's machine-id do not see each other's pids, so each is "another
 * host" to the other and waits for the lease. On this host a holder is
 * known dead when its pid is gone or belongs to a process started at
 * another time (the pid was reused); its records are queued again at once.
 * Elsewhere, or when the check cannot tell, the lease decides.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include <sqlite3.h>

#include "nh_sqlite.h"

/* Field 22 of /proc/<pid>/stat, 0 when it cannot be read. The command
 * name (field 2) may hold spaces and ')': fields are counted after the
 * last ')'. */
static unsigned long long start_time(long pid) {
  char path[64], buf[1024];
  snprintf(path, sizeof path, "/proc/%ld/stat", pid);
  FILE *f = fopen(path, "re");
  if (!f) return 0;
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = '\0';
  char *p = strrchr(buf, ')');
  if (!p) return 0;
  p++;
  for (int field = 3; field < 22 && p; field++) p = strchr(p + 1, ' '); /* p: before field 22 */
  return p ? strtoull(p + 1, NULL, 10) : 0;
}

int nh_sqlite_pid_dead(long pid, unsigned long long start) {
  if (pid <= 0) return 0;
  if (kill((pid_t)pid, 0) != 0 && errno == ESRCH) return 1;
  unsigned long long now = start_time(pid);
  return now != 0 && start != 0 && now != start; /* unreadable: alive, the lease decides */
}

static void read_line(const char *path, char *out, size_t len) {
  FILE *f = fopen(path, "re");
  out[0] = '\0';
  if (!f) return;
  if (fgets(out, (int)len, f)) out[strcspn(out, "\r\n")] = '\0';
  fclose(f);
}

void nh_sqlite_identity(nh_sqlite *sp) {
  char machine[80], ns[64] = "";
  read_line("/etc/machine-id", machine, sizeof machine);
  if (!machine[0] && gethostname(machine, sizeof machine - 1) != 0) strcpy(machine, "unknown");
  machine[sizeof machine - 1] = '\0';
  ssize_t n = readlink("/proc/self/ns/pid", ns, sizeof ns - 1);
  ns[n > 0 ? n : 0] = '\0';
  snprintf(sp->host, sizeof sp->host, "%s/%s", machine, ns);
  sp->pid = (long)getpid();
  sp->start = start_time(sp->pid);
  unsigned long long r = 0;
  if (getrandom(&r, sizeof r, 0) != (ssize_t)sizeof r) r ^= (unsigned long long)(uintptr_t)sp;
  snprintf(sp->owner, sizeof sp->owner, "%ld-%llu-%016llx", sp->pid, sp->start, r);
}

nh_code nh_sqlite_register(nh_sqlite *sp, double now, char *err, size_t errlen) {
  sqlite3_stmt *st = nh_sqlite_stmt(sp, NH_SQL_OWNER_UPSERT);
  if (!st) return nh_sqlite_error(sp, sqlite3_errcode(sp->db), "registering", err, errlen);
  sqlite3_bind_text(st, 1, sp->owner, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, sp->host, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 3, sp->pid);
  sqlite3_bind_int64(st, 4, (sqlite3_int64)sp->start);
  sqlite3_bind_double(st, 5, now + sp->base.opt.lease);
  int rc = nh_sqlite_run(st);
  if (rc != SQLITE_DONE) return nh_sqlite_error(sp, rc, "registering", err, errlen);
  sp->registering = now; /* nh_sqlite_commit makes it sp->registered */
  return NH_OK;
}

/* A holder's row goes only when its lease ran out (or its process is
 * dead): registered within lease/4, the row is there, with time to spare. */
nh_code nh_sqlite_register_stale(nh_sqlite *sp, double now, char *err, size_t errlen) {
  double since = now - sp->registered;
  if (sp->registered > 0 && since >= 0 && since < sp->base.opt.lease / 4) return NH_OK;
  return nh_sqlite_register(sp, now, err, errlen);
}

typedef struct gone {
  char **ids;
  size_t n, cap;
} gone;

static int gone_add(gone *g, const unsigned char *id) {
  if (g->n == g->cap) {
    size_t cap = g->cap ? g->cap * 2 : 8;
    char **ids = realloc(g->ids, cap * sizeof *ids);
    if (!ids) return -1;
    g->ids = ids, g->cap = cap;
  }
  if (!(g->ids[g->n] = nh_strdup((const char *)id))) return -1;
  g->n++;
  return 0;
}

static void gone_free(gone *g) {
  for (size_t i = 0; i < g->n; i++) free(g->ids[i]);
  free(g->ids);
}

/* The other holders whose lease ran out or who are dead on this host. */
static int find_gone(nh_sqlite *sp, double now, gone *g) {
  sqlite3_stmt *st = nh_sqlite_stmt(sp, NH_SQL_OWNERS);
  if (!st) return sqlite3_errcode(sp->db);
  sqlite3_bind_text(st, 1, sp->owner, -1, SQLITE_STATIC);
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    const char *host = (const char *)sqlite3_column_text(st, 1);
    int dead = sqlite3_column_double(st, 4) < now ||
               (host && strcmp(host, sp->host) == 0 &&
                nh_sqlite_pid_dead((long)sqlite3_column_int64(st, 2),
                                   (unsigned long long)sqlite3_column_int64(st, 3)));
    if (dead && gone_add(g, sqlite3_column_text(st, 0)) != 0) rc = SQLITE_NOMEM;
    if (rc == SQLITE_NOMEM) break;
  }
  sqlite3_reset(st);
  return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static int drop_owner(nh_sqlite *sp, const char *id) {
  sqlite3_stmt *st = nh_sqlite_stmt(sp, NH_SQL_RECLAIM);
  if (!st) return sqlite3_errcode(sp->db);
  sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
  int rc = nh_sqlite_run(st);
  if (rc != SQLITE_DONE) return rc;
  if (!(st = nh_sqlite_stmt(sp, NH_SQL_OWNER_DROP))) return sqlite3_errcode(sp->db);
  sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
  rc = nh_sqlite_run(st);
  return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* Inside a write transaction: counts.open from the rows, after a takeover
 * dropped a dead holder whose reserved slots would otherwise stay counted
 * (nh_spool_queue.c keeps the reservations); bumps counts.epoch so that
 * every live handle drops its own. */
static int recount(nh_sqlite *sp) {
  sqlite3_stmt *st = nh_sqlite_stmt(sp, NH_SQL_RECOUNT);
  int rc = st ? nh_sqlite_run(st) : sqlite3_errcode(sp->db);
  if (rc == SQLITE_DONE && (st = nh_sqlite_stmt(sp, NH_SQL_EPOCH_BUMP))) rc = nh_sqlite_run(st);
  else if (rc == SQLITE_DONE) rc = sqlite3_errcode(sp->db);
  if (rc != SQLITE_DONE) return rc;
  sp->res.quota = 0; /* counted out like everyone's; quota_sync sees the new epoch */
  return SQLITE_OK;
}

nh_code nh_sqlite_reclaim(nh_sqlite *sp, double now, char *err, size_t errlen) {
  gone g = { 0 };
  int rc = find_gone(sp, now, &g);
  for (size_t i = 0; rc == SQLITE_OK && i < g.n; i++) rc = drop_owner(sp, g.ids[i]);
  /* the dead holders' unused max_queued slots: counted again from the rows */
  if (rc == SQLITE_OK && g.n) rc = recount(sp);
  gone_free(&g);
  return rc == SQLITE_OK
           ? NH_OK
           : nh_sqlite_error(sp, rc, "taking over a dead holder's records", err, errlen);
}
