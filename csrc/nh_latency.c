/*
 * nh_latency.c: the latency of finished targets, submit to result, per
 * platform: a histogram of 10% buckets (NH_LATENCY_BUCKETS of them) that
 * workers add to with atomics and the owner reads quantiles from.
 */
#include <math.h>

#include "nh_internal.h"

/* Bucket k holds latencies in [0.1 * 1.1^k, 0.1 * 1.1^(k+1)) ms. */
void nh_latency_record(nh_client *c, nh_platform_id p, double ms) {
  int k = ms <= 0.1 ? 0 : (int)(log(ms / 0.1) / log(1.1));
  if (k >= NH_LATENCY_BUCKETS) k = NH_LATENCY_BUCKETS - 1;
  __atomic_add_fetch(&c->latency[p][k], 1, __ATOMIC_RELAXED);
}

/* The bucket's middle, for the q-th quantile of n counts. */
static double quantile(const uint64_t *counts, uint64_t n, double q) {
  uint64_t rank = (uint64_t)ceil(q * (double)n), seen = 0;
  if (rank == 0) rank = 1;
  for (int k = 0; k < NH_LATENCY_BUCKETS; k++) {
    seen += counts[k];
    if (seen >= rank) return 0.1 * pow(1.1, k + 0.5);
  }
  return 0;
}

void nh_latency_read(nh_client *c, nh_platform_id p, nh_latency *out) {
  uint64_t counts[NH_LATENCY_BUCKETS], n = 0;
  for (int k = 0; k < NH_LATENCY_BUCKETS; k++)
    n += counts[k] = __atomic_load_n(&c->latency[p][k], __ATOMIC_RELAXED);
  out->count = n;
  out->p50 = n ? quantile(counts, n, 0.50) : 0;
  out->p90 = n ? quantile(counts, n, 0.90) : 0;
  out->p99 = n ? quantile(counts, n, 0.99) : 0;
}
