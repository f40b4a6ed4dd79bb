#include "CStrataKernels.h"
#include "expf.h"

// No fused multiply-adds the source does not write: the same rounding as the Swift and ops
// formulations these loops are checked against.
#pragma clang fp contract(off)

// BatchNormalization's passes over a channels-last batch (`rows` rows of `channels`), built for
// AVX-512, AVX2 and the baseline: each loop runs along the channels, which vectorizes (the
// per-channel sums are kept in double, as the Swift loops they replace kept them).

#if defined(__x86_64__) && defined(__linux__) && !defined(STRATA_NO_CLONES)
#define BN_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define BN_CLONES
#endif

BN_CLONES void strata_bn_sums(const float *restrict x, const float *restrict y, long rows, long channels,
                              double *restrict sums, double *restrict products) {
  for (long c = 0; c < channels; c++) sums[c] = products[c] = 0;
  for (long r = 0; r < rows; r++) {
    const float *xr = x + r * channels;
    const float *yr = y ? y + r * channels : xr;
    for (long c = 0; c < channels; c++) {
      sums[c] += (double)xr[c];
      products[c] += (double)(xr[c] * yr[c]);
    }
  }
}

BN_CLONES void strata_bn_sums_of_squares(const float *restrict x, long rows, long channels, double *restrict sums,
                                         double *restrict squares) {
  for (long c = 0; c < channels; c++) sums[c] = squares[c] = 0;
  for (long r = 0; r < rows; r++) {
    const float *xr = x + r * channels;
    for (long c = 0; c < channels; c++) {
      double v = (double)xr[c];
      sums[c] += v;
      squares[c] += v * v;
    }
  }
}

BN_CLONES void strata_bn_normalize(const float *restrict x, const float *restrict mean, const float *restrict inv,
                                   float *restrict xhat, long rows, long channels) {
  for (long r = 0; r < rows; r++) {
    const float *xr = x + r * channels;
    float *hr = xhat + r * channels;
    for (long c = 0; c < channels; c++) hr[c] = (xr[c] - mean[c]) * inv[c];
  }
}

BN_CLONES void strata_bn_input_gradient(const float *restrict dy, const float *restrict xhat,
                                        const float *restrict scale, const float *restrict mean_dy,
                                        const float *restrict mean_product, float *restrict dx, long rows,
                                        long channels) {
  if (!xhat) {
    for (long r = 0; r < rows; r++)
      for (long c = 0; c < channels; c++) dx[r * channels + c] = scale[c] * dy[r * channels + c];
    return;
  }
  for (long r = 0; r < rows; r++) {
    const float *g = dy + r * channels, *h = xhat + r * channels;
    float *out = dx + r * channels;
    for (long c = 0; c < channels; c++) out[c] = scale[c] * (g[c] - mean_dy[c] - h[c] * mean_product[c]);
  }
}

// Inference: y = activation(x · scale + shift) per channel in one pass (0: none, 1: relu, 2: relu6,
// 3: swish as x · 1 / (1 + e^-x)), as the layers compute them one after the other.
BN_CLONES void strata_bn_inference_strided(const float *restrict x, long x_stride, const float *restrict scale,
                                           const float *restrict shift, float *restrict y, long rows,
                                           long channels, int activation) {
  for (long r = 0; r < rows; r++) {
    const float *xr = x + r * x_stride;
    float *yr = y + r * channels;
    switch (activation) {
    case 1:
      for (long c = 0; c < channels; c++) {
        float v = xr[c] * scale[c] + shift[c];
        yr[c] = v <= 0 ? 0 : v;
      }
      break;
    case 2:
      for (long c = 0; c < channels; c++) {
        float v = xr[c] * scale[c] + shift[c];
        v = v < 0 ? 0 : v;
        yr[c] = v > 6 ? 6 : v;
      }
      break;
    case 3:
      for (long c = 0; c < channels; c++) {
        float v = xr[c] * scale[c] + shift[c];
        yr[c] = v * (1 / (1 + strata_expf(-v)));
      }
      break;
    default:
      for (long c = 0; c < channels; c++) yr[c] = xr[c] * scale[c] + shift[c];
    }
  }
}

void strata_bn_inference(const float *x, const float *scale, const float *shift, float *y, long rows, long channels,
                         int activation) {
  strata_bn_inference_strided(x, channels, scale, shift, y, rows, channels, activation);
}
