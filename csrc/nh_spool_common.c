/*
 * nh_spool_common.c: what every spool backend and the spool's callers
 * share, whichever store is behind: the options' defaults, the words of
 * an error ("spool PATH: why") and the frees of what the calls return.
 * Below every backend: nh_spool_dispatch.c calls the backends, they call
 * these.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nh_internal.h"

#define DEFAULT(P, section, key, field, type, dflt, min, max, above) o->field = (dflt);

void nh_spool_options_default(nh_spool_options *o) {
  memset(o, 0, sizeof *o);
  NH_SPOOL_OPTIONS(DEFAULT, )
}

nh_code nh_spool_refuse(char *err, size_t errlen, nh_code code, const char *path, const char *fmt,
                        ...) {
  char why[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(why, sizeof why, fmt, ap);
  va_end(ap);
  if (err && errlen) snprintf(err, errlen, "spool %s: %s", path ? path : "(no path)", why);
  return code;
}

void nh_spool_rec_free(nh_spool_rec *r) {
  if (!r) return;
  free(r->id);
  free(r->data);
  free(r->progress);
  memset(r, 0, sizeof *r);
}

void nh_spool_summary_free(nh_spool_summary *st) {
  for (size_t i = 0; i < st->n_dests; i++) free(st->dests[i].label);
  free(st->dests);
  memset(st, 0, sizeof *st);
}

void nh_spool_failures_free(nh_spool_failure *f, size_t n) {
  for (size_t i = 0; f && i < n; i++) {
    free(f[i].id);
    free(f[i].receipt);
  }
  free(f);
}


void nh_spool_receipt_in_free(nh_spool_receipt_in *r) {
  if (!r) return;
  free(r->id);
  free(r->receipt);
  memset(r, 0, sizeof *r);
}

nh_spool_dest *nh_spool_summary_dest(nh_spool_summary *st, const char *label) {
  /* from the last: SQLite's rows come grouped by label */
  for (size_t i = st->n_dests; i-- > 0;)
    if (strcmp(st->dests[i].label, label) == 0) return &st->dests[i];
  nh_spool_dest *d = realloc(st->dests, (st->n_dests + 1) * sizeof *d);
  if (!d) return NULL;
  st->dests = d;
  d = &st->dests[st->n_dests];
  memset(d, 0, sizeof *d);
  if (!(d->label = nh_strdup(label))) return NULL;
  st->n_dests++;
  return d;
}
