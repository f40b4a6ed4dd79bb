#include "CStrataKernels.h"
#include <string.h>

typedef float v8 __attribute__((ext_vector_type(4)));  // SSE and NEON width: no ABI change on the baseline target

static inline v8 load(const float *p) { v8 x; memcpy(&x, p, sizeof x); return x; }
static inline void store(float *p, v8 x) { memcpy(p, &x, sizeof x); }
static inline v8 splat(float x) { return (v8)x; }
static inline v8 vsqrt(v8 x) { return __builtin_elementwise_sqrt(x); }
static inline v8 vmax(v8 a, v8 b) { return __builtin_elementwise_max(a, b); }

/// Runs BODY on 4 lanes at a time, then on a zero-padded copy of the tail: one code path, same rounding.
#define FOR_LANES(n, BODY)                                                                                       \
  for (size_t i = 0; i < (n); i += 4) {                                                                          \
    size_t lanes = (n) - i < 4 ? (n) - i : 4;                                                                    \
    BODY                                                                                                         \
  }

#define LOAD(x, p) v8 x; if (lanes == 4) x = load((p) + i); else { float t[4] = {0}; memcpy(t, (p) + i, lanes * sizeof(float)); x = load(t); }
#define STORE(p, x) if (lanes == 4) store((p) + i, x); else { float t[4]; store(t, x); memcpy((p) + i, t, lanes * sizeof(float)); }

void strata_adam(float *w, const float *g, float *m, float *v, float *vhat, size_t n, float alpha, float beta1,
                 float beta2, float epsilon) {
  FOR_LANES(n, {
    LOAD(vw, w) LOAD(vg, g) LOAD(vm, m) LOAD(vv, v)
    vm += (vg - vm) * (1 - beta1);
    vv += (vg * vg - vv) * (1 - beta2);
    v8 denominator = vv;
    if (vhat) {
      LOAD(vh, vhat)
      vh = vmax(vh, vv);
      STORE(vhat, vh)
      denominator = vh;
    }
    vw -= vm * alpha / (vsqrt(denominator) + epsilon);
    STORE(w, vw) STORE(m, vm) STORE(v, vv)
  })
}

void strata_rmsprop(float *w, const float *g, float *v, float *mom, float *mg, size_t n, float lr, float rho,
                    float momentum, float epsilon, int centered) {
  FOR_LANES(n, {
    LOAD(vw, w) LOAD(vg, g) LOAD(vv, v)
    vv = rho * vv + (1 - rho) * vg * vg;
    v8 denominator = vv + epsilon;
    if (centered) {
      LOAD(vmg, mg)
      vmg = rho * vmg + (1 - rho) * vg;
      denominator = vv - vmg * vmg + epsilon;
      STORE(mg, vmg)
    }
    v8 increment = lr * vg / vsqrt(denominator);
    if (momentum > 0) {
      LOAD(vmom, mom)
      vmom = momentum * vmom + increment;
      vw -= vmom;
      STORE(mom, vmom)
    } else {
      vw -= increment;
    }
    STORE(w, vw) STORE(v, vv)
  })
}

void strata_adagrad(float *w, const float *g, float *acc, size_t n, float lr, float epsilon) {
  FOR_LANES(n, {
    LOAD(vw, w) LOAD(vg, g) LOAD(va, acc)
    va += vg * vg;
    vw -= lr * vg / vsqrt(va + epsilon);
    STORE(w, vw) STORE(acc, va)
  })
}

void strata_adadelta(float *w, const float *g, float *ag, float *ad, size_t n, float lr, float rho, float epsilon) {
  FOR_LANES(n, {
    LOAD(vw, w) LOAD(vg, g) LOAD(vag, ag) LOAD(vad, ad)
    vag = rho * vag + (1 - rho) * vg * vg;
    v8 delta = -vsqrt(vad + epsilon) * vg / vsqrt(vag + epsilon);
    vad = rho * vad + (1 - rho) * delta * delta;
    vw += lr * delta;
    STORE(w, vw) STORE(ag, vag) STORE(ad, vad)
  })
}

void strata_nadam(float *w, const float *g, float *m, float *v, size_t n, float lr, float beta1, float beta2,
                  float epsilon, float muT, float muNext, float prodT, float prodNext, float beta2Power) {
  FOR_LANES(n, {
    LOAD(vw, w) LOAD(vg, g) LOAD(vm, m) LOAD(vv, v)
    vm += (vg - vm) * (1 - beta1);
    vv += (vg * vg - vv) * (1 - beta2);
    v8 mHat = muNext * vm / (1 - prodNext) + (1 - muT) * vg / (1 - prodT);
    v8 vHat = vv / (1 - beta2Power);
    vw -= mHat * lr / (vsqrt(vHat) + epsilon);
    STORE(w, vw) STORE(m, vm) STORE(v, vv)
  })
}
