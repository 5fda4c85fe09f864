/* A high-dynamic-range histogram of durations (or any non-negative value):
 * log-linear buckets, 32 per power of two, so a percentile is within 3% of
 * the true value from nanoseconds to hours, in constant memory. */
#ifndef UVDB_HISTOGRAM_H
#define UVDB_HISTOGRAM_H

#include <stdint.h>

#define HISTOGRAM_SUB_BITS 5
#define HISTOGRAM_BUCKETS (64 + (64 - 6) * 32)

struct histogram {
  uint64_t count, sum, min, max;
  uint64_t bucket[HISTOGRAM_BUCKETS];
};

void histogram_add(struct histogram *h, uint64_t value);
void histogram_add_n(struct histogram *h, uint64_t value, uint64_t n); /* n times the same value */
/* The value at quantile q (0..1): the middle of its bucket, clamped to the
 * exact min and max.  0 when empty. */
uint64_t histogram_quantile(const struct histogram *h, double q);

#endif
