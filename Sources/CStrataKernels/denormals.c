#include "CStrataKernels.h"

#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
unsigned long strata_flush_denormals(void) {
  unsigned int previous = _mm_getcsr();
  _mm_setcsr(previous | 0x8040);  // FTZ (bit 15) and DAZ (bit 6)
  return previous;
}
void strata_restore_float_mode(unsigned long previous) { _mm_setcsr((unsigned int)previous); }
#elif defined(__aarch64__)
unsigned long strata_flush_denormals(void) {
  unsigned long previous;
  __asm__ volatile("mrs %0, fpcr" : "=r"(previous));
  __asm__ volatile("msr fpcr, %0" : : "r"(previous | (1UL << 24)));  // FZ
  return previous;
}
void strata_restore_float_mode(unsigned long previous) { __asm__ volatile("msr fpcr, %0" : : "r"(previous)); }
#else
unsigned long strata_flush_denormals(void) { return 0; }
void strata_restore_float_mode(unsigned long previous) { (void)previous; }
#endif
