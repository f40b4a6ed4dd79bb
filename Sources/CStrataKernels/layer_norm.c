#include <math.h>
#include "CStrataKernels.h"

// No fused multiply-adds the source does not write: the same rounding as the Swift and ops
// formulations these loops are checked against.
#pragma clang fp contract(off)

// Layer normalization and softmax over the last axis, forward and backward, one pass over each row
// per quantity, built for AVX-512, AVX2 and the baseline (Swift's SIMD types compile to SSE2 here).

#if defined(__x86_64__) && defined(__linux__) && !defined(STRATA_NO_CLONES)
#define NORM_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define NORM_CLONES
#endif

// Σ a[j] (and Σ a[j]·b[j]) in 16 running partial sums, then added: the sums vectorize instead of
// waiting on one accumulator's latency per element.
static inline float strata_row_sum(const float *restrict a, long n) {
  float lanes[16] = {0};
  long j = 0;
  for (; j + 16 <= n; j += 16)
    for (int k = 0; k < 16; k++) lanes[k] += a[j + k];
  float sum = 0;
  for (int k = 0; k < 16; k++) sum += lanes[k];
  for (; j < n; j++) sum += a[j];
  return sum;
}

static inline float strata_row_centered_squares(const float *restrict a, float mean, long n) {
  float lanes[16] = {0};
  long j = 0;
  for (; j + 16 <= n; j += 16)
    for (int k = 0; k < 16; k++) {
      float d = a[j + k] - mean;
      lanes[k] += d * d;
    }
  float sum = 0;
  for (int k = 0; k < 16; k++) sum += lanes[k];
  for (; j < n; j++) {
    float d = a[j] - mean;
    sum += d * d;
  }
  return sum;
}

NORM_CLONES void strata_layer_norm_forward(const float *restrict x, const float *restrict gamma,
                                           const float *restrict beta, float *restrict y, float *restrict xhat,
                                           float *restrict inv, long rows, long n, float epsilon) {
  for (long r = 0; r < rows; r++) {
    const float *xr = x + r * n;
    float mean = strata_row_sum(xr, n) / (float)n;
    float squares = strata_row_centered_squares(xr, mean, n);
    float inverse = 1.0f / sqrtf(squares / (float)n + epsilon);
    if (inv) inv[r] = inverse;
    float *yr = y + r * n;
    float *hr = xhat ? xhat + r * n : 0;
    for (long j = 0; j < n; j++) {
      float h = (xr[j] - mean) * inverse;
      if (hr) hr[j] = h;
      float v = gamma ? h * gamma[j] : h;
      yr[j] = beta ? v + beta[j] : v;
    }
  }
}

NORM_CLONES void strata_layer_norm_backward(const float *restrict dy, const float *restrict xhat,
                                            const float *restrict inv, const float *restrict gamma,
                                            float *restrict dx, float *restrict dgamma, float *restrict dbeta,
                                            long rows, long n) {
  for (long r = 0; r < rows; r++) {
    const float *g = dy + r * n, *h = xhat + r * n;
    // d = dy·gamma into dx first, then its two means, then dx in place.
    float *out = dx + r * n;
    for (long j = 0; j < n; j++) out[j] = gamma ? g[j] * gamma[j] : g[j];
    float lanes_d[16] = {0}, lanes_dh[16] = {0};
    long j = 0;
    for (; j + 16 <= n; j += 16)
      for (int k = 0; k < 16; k++) {
        lanes_d[k] += out[j + k];
        lanes_dh[k] += out[j + k] * h[j + k];
      }
    float mean_d = 0, mean_dh = 0;
    for (int k = 0; k < 16; k++) {
      mean_d += lanes_d[k];
      mean_dh += lanes_dh[k];
    }
    for (; j < n; j++) {
      mean_d += out[j];
      mean_dh += out[j] * h[j];
    }
    mean_d /= (float)n;
    mean_dh /= (float)n;
    for (long i = 0; i < n; i++) out[i] = inv[r] * (out[i] - mean_d - h[i] * mean_dh);
    if (dgamma)
      for (long j = 0; j < n; j++) dgamma[j] += g[j] * h[j];
    if (dbeta)
      for (long j = 0; j < n; j++) dbeta[j] += g[j];
  }
}

#include "expf.h"

NORM_CLONES void strata_softmax_forward(const float *restrict x, float *restrict y, long rows, long n) {
  for (long r = 0; r < rows; r++) {
    const float *xr = x + r * n;
    float *yr = y + r * n;
    float top = -INFINITY;
    for (long j = 0; j < n; j++) top = xr[j] > top ? xr[j] : top;
    // The exponentials in a loop of their own (it vectorizes; a sum in it would keep it scalar).
    for (long j = 0; j < n; j++) yr[j] = strata_expf(xr[j] - top);
    float sum = 0;
    for (long j = 0; j < n; j++) sum += yr[j];
    for (long j = 0; j < n; j++) yr[j] = yr[j] / sum;
  }
}

NORM_CLONES void strata_softmax_backward(const float *restrict y, const float *restrict dy, float *restrict dx,
                                         long rows, long n) {
  for (long r = 0; r < rows; r++) {
    const float *yr = y + r * n, *gr = dy + r * n;
    float inner = 0;
    for (long j = 0; j < n; j++) inner += gr[j] * yr[j];
    float *out = dx + r * n;
    for (long j = 0; j < n; j++) out[j] = yr[j] * (gr[j] - inner);
  }
}
