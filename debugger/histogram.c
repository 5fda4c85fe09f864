/* High-dynamic-range histograms: values below 64 exactly, above in 32
 * linear steps per power of two. */
#include "histogram.h"

static unsigned uv__bucket(uint64_t v) {
  if (v < 64)
    return (unsigned)v;
  unsigned e = 63u - (unsigned)__builtin_clzll(v); /* 6..63 */
  unsigned sub = (unsigned)(v >> (e - HISTOGRAM_SUB_BITS)) & 31u;
  return 64u + (e - 6u) * 32u + sub;
}

/* The lowest value of bucket b, and its width. */
static uint64_t uv__bucket_low(unsigned b, uint64_t *width) {
  if (b < 64) {
    *width = 1;
    return b;
  }
  unsigned e = (b - 64u) / 32u + 6u, sub = (b - 64u) % 32u;
  *width = 1ull << (e - HISTOGRAM_SUB_BITS);
  return (1ull << e) + (uint64_t)sub * *width;
}

void histogram_add_n(struct histogram *h, uint64_t value, uint64_t n) {
  if (!n)
    return;
  if (!h->count || value < h->min)
    h->min = value;
  if (value > h->max)
    h->max = value;
  h->count += n;
  h->sum += value * n;
  h->bucket[uv__bucket(value)] += n;
}

void histogram_add(struct histogram *h, uint64_t value) {
  histogram_add_n(h, value, 1);
}

uint64_t histogram_quantile(const struct histogram *h, double q) {
  if (!h->count)
    return 0;
  if (q <= 0)
    return h->min;
  if (q >= 1)
    return h->max;
  /* the smallest value with at least q of the values at or below it */
  uint64_t rank = (uint64_t)(q * (double)h->count + 0.5), seen = 0;
  if (rank <= 1)
    return h->min; /* the lowest or the highest rank: kept exactly, not as a bucket's middle */
  if (rank >= h->count)
    return h->max;
  for (unsigned b = 0; b < HISTOGRAM_BUCKETS; b++) {
    seen += h->bucket[b];
    if (seen >= rank) {
      uint64_t width, v = uv__bucket_low(b, &width) + width / 2;
      return v < h->min ? h->min : v > h->max ? h->max : v;
    }
  }
  return h->max;
}
