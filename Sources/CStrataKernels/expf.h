#ifndef STRATA_EXPF_H
#define STRATA_EXPF_H
#include <stdint.h>
#include <string.h>

// e^x as Swift's SIMDMath.exp computes it (Cephes' expf: n = round(x / ln 2), a degree-6
// polynomial on the rest, 2^n through the exponent bits), branch-free so that loops vectorize.

static inline float bits_to_float(int32_t bits) {
  float f;
  memcpy(&f, &bits, sizeof f);
  return f;
}

static inline float strata_expf(float x) {
  x = x < -87.33654f ? -87.33654f : x;
  x = x > 88.72283f ? 88.72283f : x;
  float n = (x * 1.44269504f + 12582912.0f) - 12582912.0f;
  x = x - n * 0.693359375f + n * 2.1219444e-4f;
  float p = 1.98756915e-4f;
  p = p * x + 1.39819995e-3f;
  p = p * x + 8.3334519e-3f;
  p = p * x + 4.16657959e-2f;
  p = p * x + 1.66666655e-1f;
  p = p * x + 5.00000012e-1f;
  p = p * x * x + x + 1.0f;
  float shifted = n + 12583038.0f;
  int32_t exponent;
  memcpy(&exponent, &shifted, sizeof exponent);
  return p * bits_to_float(exponent << 23) * 2.0f;
}

#endif
