#include "CStrataHook.h"
void (*_Nullable strata_builtins_hook)(void) = 0;

void strata_run_builtins_hook(void) {
  if (strata_builtins_hook) strata_builtins_hook();
}

void (*_Nullable strata_keras_hook)(void) = 0;

void strata_run_keras_hook(void) {
  if (strata_keras_hook) strata_keras_hook();
}
