#include "CBenchPeak.h"
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

// Independent accumulator chains: enough to cover the FMA latency on every pipe (Zen: 2 pipes x 5
// cycles), few enough to stay in registers with the two operands (16 vector registers with AVX2,
// 32 with AVX-512). 16 chains on AVX2 spilled and measured half of Zen's real peak.
#define DEFINE_FMA_LOOP(NAME, TARGET, LANES, CHAINS)                                                               \
  __attribute__((target(TARGET))) static double NAME(long iterations, int *chains) {                                     \
    typedef float vec __attribute__((vector_size(LANES * 4)));                                              \
    vec acc[CHAINS], a, b;                                                                                  \
    for (int i = 0; i < LANES; i++) { a[i] = 0.999999f; b[i] = 1e-7f; }                                     \
    for (int c = 0; c < CHAINS; c++) for (int i = 0; i < LANES; i++) acc[c][i] = (float)c;                  \
    for (long n = 0; n < iterations; n++) {                                                                 \
      _Pragma("clang loop unroll(full)") for (int c = 0; c < CHAINS; c++) acc[c] = acc[c] * a + b;          \
    }                                                                                                       \
    float sum = 0;                                                                                          \
    for (int c = 0; c < CHAINS; c++) for (int i = 0; i < LANES; i++) sum += acc[c][i];                       \
    *chains = CHAINS;                                                                                       \
    return sum;                                                                                             \
  }

DEFINE_FMA_LOOP(fma512, "avx512f,fma", 16, 16)
DEFINE_FMA_LOOP(fma256, "avx2,fma", 8, 12)
DEFINE_FMA_LOOP(fma128, "sse2", 4, 12)

const char *bench_vector_isa(void) {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) return "avx512";
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "avx2";
  return "sse";
}

volatile double bench_sink;

double bench_peak_gflops(int milliseconds) {
  const char *isa = bench_vector_isa();
  double (*loop)(long, int *) = isa[3] == '5' ? fma512 : (isa[3] == '2' ? fma256 : fma128);
  int lanes = isa[3] == '5' ? 16 : (isa[3] == '2' ? 8 : 4);
  long iterations = 1 << 16;
  double best = 0;
  double deadline = now() + milliseconds * 1e-3;
  while (now() < deadline) {
    double start = now();
    int chains = 1;
    bench_sink += loop(iterations, &chains);
    double seconds = now() - start;
    double gflops = 2.0 * lanes * chains * (double)iterations / seconds * 1e-9;
    if (gflops > best) best = gflops;
    if (seconds < 0.01) iterations *= 2;
  }
  return best;
}

double bench_copy_bandwidth(size_t bytes, int repeats) {
  char *a = aligned_alloc(64, bytes), *b = aligned_alloc(64, bytes);
  if (!a || !b) { free(a); free(b); return 0; }
  memset(a, 1, bytes);
  memset(b, 2, bytes);
  double best = 1e30;
  for (int r = 0; r < repeats; r++) {
    double start = now();
    memcpy(b, a, bytes);
    double seconds = now() - start;
    if (seconds < best) best = seconds;
  }
  bench_sink += b[bytes / 2];
  free(a);
  free(b);
  return 2.0 * bytes / best * 1e-9;
}
