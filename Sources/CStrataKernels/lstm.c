#include <stdint.h>
#include <string.h>
#include "CStrataKernels.h"
#include "expf.h"

// The LSTM's gate math for one batch row of one step, in C so that it is built for AVX-512 and AVX2
// (Swift's SIMD types compile for the baseline, SSE2, here). The same formulas and the same exp
// polynomial as Swift's SIMDMath (Cephes' expf), each lane on its own.

#if defined(__x86_64__) && defined(__linux__) && !defined(STRATA_NO_CLONES)
#define LSTM_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define LSTM_CLONES
#endif

static inline float strata_sigmoidf(float x) { return 1.0f / (1.0f + strata_expf(-x)); }

static inline float strata_tanhf(float x) {
  float magnitude = x < 0 ? -x : x;
  float t = strata_expf(-2.0f * magnitude);
  float r = (1.0f - t) / (1.0f + t);
  return x < 0 ? -r : r;
}

// One loop per case (keep and write, keep, masked), so that each vectorizes.
#define LSTM_GATES                                                                                   \
  float i = strata_sigmoidf(z[j]), f = strata_sigmoidf(z[units + j]);                                \
  float g = strata_tanhf(z[2 * units + j]), o = strata_sigmoidf(z[3 * units + j]);                   \
  float c_new = f * c[j] + i * g;                                                                    \
  float tc = strata_tanhf(c_new);                                                                    \
  gates[j] = i;                                                                                      \
  gates[units + j] = f;                                                                              \
  gates[2 * units + j] = g;                                                                          \
  gates[3 * units + j] = o;                                                                          \
  tanh_c[j] = tc

LSTM_CLONES void strata_lstm_forward_row(const float *restrict z, float *restrict gates, float *restrict tanh_c,
                                         float *restrict c, float *restrict h, float *restrict out, long units,
                                         int keep, int zero_output) {
  if (keep && out) {
    for (long j = 0; j < units; j++) {
      LSTM_GATES;
      c[j] = c_new;
      h[j] = o * tc;
      out[j] = o * tc;
    }
  } else if (keep) {
    for (long j = 0; j < units; j++) {
      LSTM_GATES;
      c[j] = c_new;
      h[j] = o * tc;
    }
  } else {
    for (long j = 0; j < units; j++) {
      LSTM_GATES;
      (void)c_new;
    }
    if (out) {
      for (long j = 0; j < units; j++) out[j] = zero_output ? 0.0f : h[j];
    }
  }
}

LSTM_CLONES void strata_lstm_backward_row(const float *restrict gates, const float *restrict tanh_c,
                                          const float *restrict c_prev, const float *restrict d_out,
                                          float *restrict dh, float *restrict dc, float *restrict dz, long units,
                                          float m, int zero_output) {
  for (long j = 0; j < units; j++) {
    float i = gates[j], f = gates[units + j], g = gates[2 * units + j], o = gates[3 * units + j];
    float tc = tanh_c[j], cp = c_prev[j];
    float dh_next = dh[j], dc_next = dc[j];
    float d_o = d_out ? d_out[j] : 0.0f;
    float dh_new = m * (dh_next + d_o);
    float dc_new = m * dc_next + dh_new * o * (1.0f - tc * tc);
    dz[j] = dc_new * g * i * (1.0f - i);
    dz[units + j] = dc_new * cp * f * (1.0f - f);
    dz[2 * units + j] = dc_new * i * (1.0f - g * g);
    dz[3 * units + j] = dh_new * tc * o * (1.0f - o);
    dc[j] = dc_new * f + (1.0f - m) * dc_next;
    dh[j] = (1.0f - m) * (dh_next + (zero_output ? 0.0f : d_o));
  }
}
