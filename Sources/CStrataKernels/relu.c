#include "CStrataKernels.h"
#include "clones.h"

STRATA_CLONES void strata_relu_forward(const float *restrict x, float *restrict y, size_t n) {
  // NaN is neither <= 0 nor replaced: it propagates, as TensorFlow's and JAX's relu do.
  for (size_t i = 0; i < n; i++) y[i] = x[i] <= 0 ? 0 : x[i];
}

STRATA_CLONES void strata_relu_backward(const float *restrict x, const float *restrict dy, float *restrict dx, size_t n) {
  for (size_t i = 0; i < n; i++) dx[i] = x[i] > 0 ? dy[i] : 0;
}
