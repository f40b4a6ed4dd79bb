#include <stdint.h>
#include <string.h>
#include "CStrataKernels.h"

// No fused multiply-adds the source does not write: the same rounding as the Swift and ops
// formulations these loops are checked against.
#pragma clang fp contract(off)
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

// GRU (Keras 3's reset_after form) and SimpleRNN steps for one row: `p` the projected input
// (x · kernel + input bias), `inner` the state's product (h · recurrent kernel), `bias` the
// recurrent bias (NULL: none), the kept values for the backward pass, `h` updated when `keep`.
#define GRU_STEP                                                                                     \
  float ib = bias ? bias[j] : 0.0f, rb = bias ? bias[units + j] : 0.0f;                              \
  float hb = bias ? bias[2 * units + j] : 0.0f;                                                      \
  float z = strata_sigmoidf(p[j] + inner[j] + ib);                                                   \
  float r = strata_sigmoidf(p[units + j] + inner[units + j] + rb);                                   \
  float candidate = inner[2 * units + j] + hb;                                                       \
  float hh = strata_tanhf(p[2 * units + j] + r * candidate);                                         \
  float h_new = z * h[j] + (1.0f - z) * hh;                                                          \
  gates[j] = z;                                                                                      \
  gates[units + j] = r;                                                                              \
  gates[2 * units + j] = hh;                                                                         \
  candidates[j] = candidate

LSTM_CLONES void strata_gru_forward_row(const float *restrict p, const float *restrict inner,
                                        const float *restrict bias, float *restrict gates,
                                        float *restrict candidates, float *restrict h, float *restrict out,
                                        long units, int keep, int zero_output) {
  if (keep && out) {
    for (long j = 0; j < units; j++) {
      GRU_STEP;
      h[j] = h_new;
      out[j] = h_new;
    }
  } else if (keep) {
    for (long j = 0; j < units; j++) {
      GRU_STEP;
      h[j] = h_new;
    }
  } else {
    for (long j = 0; j < units; j++) {
      GRU_STEP;
      (void)h_new;
    }
    if (out)
      for (long j = 0; j < units; j++) out[j] = zero_output ? 0.0f : h[j];
  }
}

LSTM_CLONES void strata_simple_rnn_forward_row(const float *restrict p, const float *restrict inner,
                                               float *restrict gates, float *restrict h, float *restrict out,
                                               long units, int keep, int zero_output) {
  for (long j = 0; j < units; j++) gates[j] = strata_tanhf(p[j] + inner[j]);
  if (keep) {
    for (long j = 0; j < units; j++) h[j] = gates[j];
    if (out)
      for (long j = 0; j < units; j++) out[j] = gates[j];
  } else if (out) {
    for (long j = 0; j < units; j++) out[j] = zero_output ? 0.0f : h[j];
  }
}

LSTM_CLONES void strata_gru_backward_row(const float *restrict gates, const float *restrict candidates,
                                         const float *restrict previous, const float *restrict d_out,
                                         float *restrict dh, float *restrict dp, float *restrict di, long units,
                                         float m, int zero_output) {
  for (long j = 0; j < units; j++) {
    float dh_next = dh[j], d_o = d_out ? d_out[j] : 0.0f;
    float dh_new = m * (dh_next + d_o);
    float carried = (1.0f - m) * (dh_next + (zero_output ? 0.0f : d_o));
    float z = gates[j], r = gates[units + j], hh = gates[2 * units + j];
    float dz = dh_new * (previous[j] - hh) * z * (1.0f - z);
    float dhh = dh_new * (1.0f - z) * (1.0f - hh * hh);
    float dr = dhh * candidates[j] * r * (1.0f - r);
    dp[j] = dz;
    dp[units + j] = dr;
    dp[2 * units + j] = dhh;
    di[j] = dz;
    di[units + j] = dr;
    di[2 * units + j] = dhh * r;
    dh[j] = carried + dh_new * z;
  }
}

LSTM_CLONES void strata_simple_rnn_backward_row(const float *restrict gates, const float *restrict d_out,
                                                float *restrict dh, float *restrict dp, float *restrict di,
                                                long units, float m, int zero_output) {
  for (long j = 0; j < units; j++) {
    float dh_next = dh[j], d_o = d_out ? d_out[j] : 0.0f;
    float dh_new = m * (dh_next + d_o);
    float pre = dh_new * (1.0f - gates[j] * gates[j]);
    dp[j] = pre;
    di[j] = pre;
    dh[j] = (1.0f - m) * (dh_next + (zero_output ? 0.0f : d_o));
  }
}
