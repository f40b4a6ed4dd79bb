#ifndef STRATA_CLONES_H
#define STRATA_CLONES_H

// STRATA_CLONES builds a function for AVX2 and for the baseline at once (target_clones); the loader
// picks the widest the CPU has. AVX2 and the baseline, not AVX-512: on Skylake-SP, AVX-512 lowers the
// core's clock for what runs after it, and the MLP's training step measured 0.27 ms with AVX2 clones
// against 0.28-0.32 ms with AVX-512 ones.
// No clones under ThreadSanitizer: the instrumented ifunc resolver would run before its runtime exists.
#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define STRATA_NO_CLONES 1
#endif
#endif
#if defined(__x86_64__) && defined(__linux__) && !defined(STRATA_NO_CLONES)
#define STRATA_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define STRATA_CLONES
#endif

#endif
