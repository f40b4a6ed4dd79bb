#ifndef CBENCHPEAK_H
#define CBENCHPEAK_H
#include <stddef.h>

/// The widest vector FMA unit this CPU has, chosen at run time: "avx512", "avx2" or "sse".
const char *bench_vector_isa(void);

/// Single-precision multiply-add throughput of one core, in GFLOP/s (2 FLOP per lane per FMA): many
/// independent FMA chains for about `milliseconds`, so that latency is hidden and only throughput counts.
double bench_peak_gflops(int milliseconds);

/// Memory bandwidth in GB/s of one core copying `bytes` (read + write counted), best of `repeats`.
double bench_copy_bandwidth(size_t bytes, int repeats);
#endif
