#include "CStrataKernels.h"

// A product of few rows by a matrix that fits in the cache, without packing either operand: what a
// recurrent loop multiplies every step (its state by the same recurrent kernel) and a Dense layer
// at a small batch. OpenBLAS packs `b` on every call, a third of such a product's time; this reads
// `b` in place, 8 rows by 32 columns at a time (16 AVX-512 accumulators), each output's sum in `k`
// order. AVX-512 only: elsewhere strata_small_gemm_fits says no and the caller uses BLAS.

#if defined(__x86_64__) && !defined(STRATA_NO_CLONES)
#include <immintrin.h>

int strata_small_gemm_fits(long m, long n, long k) {
  static int available = -1;
  if (available < 0) available = __builtin_cpu_supports("avx512f") ? 1 : 0;
  return available && m > 0 && m <= 32 && n > 0 && n % 32 == 0 && k > 0 && k <= 2048 &&
         n * k <= 256 * 1024;
}

#define ROW(r)                                                                                       \
  do {                                                                                               \
    __m512 h = _mm512_set1_ps(ap[(r) * k + p]);                                                      \
    c##r##0 = _mm512_fmadd_ps(h, w0, c##r##0);                                                       \
    c##r##1 = _mm512_fmadd_ps(h, w1, c##r##1);                                                       \
  } while (0)
#define LOAD(r)                                                                                      \
  __m512 c##r##0 = zero ? _mm512_setzero_ps() : _mm512_loadu_ps(c + (i + r) * n + j);                \
  __m512 c##r##1 = zero ? _mm512_setzero_ps() : _mm512_loadu_ps(c + (i + r) * n + j + 16)
#define STORE(r)                                                                                     \
  _mm512_storeu_ps(c + (i + r) * n + j, c##r##0);                                                    \
  _mm512_storeu_ps(c + (i + r) * n + j + 16, c##r##1)

__attribute__((target("avx512f,fma"))) void strata_small_gemm(long m, long n, long k, const float *restrict a,
                                                              const float *restrict b, int zero,
                                                              float *restrict c) {
  long i = 0;
  for (; i + 8 <= m; i += 8) {
    const float *ap = a + i * k;
    for (long j = 0; j < n; j += 32) {
      LOAD(0); LOAD(1); LOAD(2); LOAD(3); LOAD(4); LOAD(5); LOAD(6); LOAD(7);
      for (long p = 0; p < k; p++) {
        __m512 w0 = _mm512_loadu_ps(b + p * n + j), w1 = _mm512_loadu_ps(b + p * n + j + 16);
        ROW(0); ROW(1); ROW(2); ROW(3); ROW(4); ROW(5); ROW(6); ROW(7);
      }
      STORE(0); STORE(1); STORE(2); STORE(3); STORE(4); STORE(5); STORE(6); STORE(7);
    }
  }
  for (; i < m; i++) {  // the last rows, one at a time
    const float *ap = a + i * k;
    for (long j = 0; j < n; j += 32) {
      LOAD(0);
      for (long p = 0; p < k; p++) {
        __m512 w0 = _mm512_loadu_ps(b + p * n + j), w1 = _mm512_loadu_ps(b + p * n + j + 16);
        ROW(0);
      }
      STORE(0);
    }
  }
}
#else
int strata_small_gemm_fits(long m, long n, long k) {
  (void)m; (void)n; (void)k;
  return 0;
}
void strata_small_gemm(long m, long n, long k, const float *a, const float *b, int zero, float *c) {
  (void)m; (void)n; (void)k; (void)a; (void)b; (void)zero; (void)c;
}
#endif
