#include "CStrataKernels.h"
#include "clones.h"

// Plain loops over floats: clang vectorizes them at the width of each clone (AVX2 or the baseline's
// SSE), the loader picking the widest the CPU has. __builtin_elementwise_sqrt has no errno
// side effect, unlike sqrtf, so it does not stop vectorization.

static inline float root(float x) { return __builtin_elementwise_sqrt(x); }

STRATA_CLONES void strata_adam(float *restrict w, const float *restrict g, float *restrict m, float *restrict v,
                               float *restrict vhat, size_t n, float alpha, float beta1, float beta2, float epsilon) {
  if (vhat) {
    for (size_t i = 0; i < n; i++) {
      float mi = m[i] + (g[i] - m[i]) * (1 - beta1);
      float vi = v[i] + (g[i] * g[i] - v[i]) * (1 - beta2);
      float hi = vhat[i] > vi ? vhat[i] : vi;
      m[i] = mi;
      v[i] = vi;
      vhat[i] = hi;
      w[i] -= mi * alpha / (root(hi) + epsilon);
    }
  } else {
    for (size_t i = 0; i < n; i++) {
      float mi = m[i] + (g[i] - m[i]) * (1 - beta1);
      float vi = v[i] + (g[i] * g[i] - v[i]) * (1 - beta2);
      m[i] = mi;
      v[i] = vi;
      w[i] -= mi * alpha / (root(vi) + epsilon);
    }
  }
}

STRATA_CLONES void strata_rmsprop(float *restrict w, const float *restrict g, float *restrict v, float *restrict mom,
                                  float *restrict mg, size_t n, float lr, float rho, float momentum, float epsilon,
                                  int centered) {
  for (size_t i = 0; i < n; i++) {
    float vi = rho * v[i] + (1 - rho) * g[i] * g[i];
    float denominator = vi + epsilon;
    if (centered) {
      float mgi = rho * mg[i] + (1 - rho) * g[i];
      mg[i] = mgi;
      denominator = vi - mgi * mgi + epsilon;
    }
    v[i] = vi;
    float increment = lr * g[i] / root(denominator);
    if (momentum > 0) {
      float mi = momentum * mom[i] + increment;
      mom[i] = mi;
      w[i] -= mi;
    } else {
      w[i] -= increment;
    }
  }
}

STRATA_CLONES void strata_adagrad(float *restrict w, const float *restrict g, float *restrict acc, size_t n, float lr,
                                  float epsilon) {
  for (size_t i = 0; i < n; i++) {
    float a = acc[i] + g[i] * g[i];
    acc[i] = a;
    w[i] -= lr * g[i] / root(a + epsilon);
  }
}

STRATA_CLONES void strata_adadelta(float *restrict w, const float *restrict g, float *restrict ag, float *restrict ad,
                                   size_t n, float lr, float rho, float epsilon) {
  for (size_t i = 0; i < n; i++) {
    float agi = rho * ag[i] + (1 - rho) * g[i] * g[i];
    float delta = -root(ad[i] + epsilon) * g[i] / root(agi + epsilon);
    ag[i] = agi;
    ad[i] = rho * ad[i] + (1 - rho) * delta * delta;
    w[i] += lr * delta;
  }
}

STRATA_CLONES void strata_nadam(float *restrict w, const float *restrict g, float *restrict m, float *restrict v, size_t n,
                                float lr, float beta1, float beta2, float epsilon, float muT, float muNext, float prodT,
                                float prodNext, float beta2Power) {
  for (size_t i = 0; i < n; i++) {
    float mi = m[i] + (g[i] - m[i]) * (1 - beta1);
    float vi = v[i] + (g[i] * g[i] - v[i]) * (1 - beta2);
    m[i] = mi;
    v[i] = vi;
    float mHat = muNext * mi / (1 - prodNext) + (1 - muT) * g[i] / (1 - prodT);
    float vHat = vi / (1 - beta2Power);
    w[i] -= mHat * lr / (root(vHat) + epsilon);
  }
}
