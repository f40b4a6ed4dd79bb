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

NORM_CLONES void strata_layer_norm_forward(const float *restrict x, const float *restrict gamma,
                                           const float *restrict beta, float *restrict y, float *restrict xhat,
                                           float *restrict inv, long rows, long n, float epsilon) {
  for (long r = 0; r < rows; r++) {
    const float *xr = x + r * n;
    float sum = 0;
    for (long j = 0; j < n; j++) sum += xr[j];
    float mean = sum / (float)n;
    float squares = 0;
    for (long j = 0; j < n; j++) {
      float d = xr[j] - mean;
      squares += d * d;
    }
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
    float mean_d = 0, mean_dh = 0;
    for (long j = 0; j < n; j++) {
      float d = gamma ? g[j] * gamma[j] : g[j];
      mean_d += d;
      mean_dh += d * h[j];
    }
    mean_d /= (float)n;
    mean_dh /= (float)n;
    float *out = dx + r * n;
    for (long j = 0; j < n; j++) {
      float d = gamma ? g[j] * gamma[j] : g[j];
      out[j] = inv[r] * (d - mean_d - h[j] * mean_dh);
    }
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
