// Installs StrataKeras' codec registration as Strata's Keras hook when the program loads. It only
// stores a function pointer: no Swift code runs before `main`.
#include "CStrataHook.h"

// Defined by StrataKeras (a @_cdecl in Sources/StrataKeras/Install.swift).
extern void strata_register_keras(void);

__attribute__((constructor)) static void strata_install_keras_hook(void) {
  strata_keras_hook = strata_register_keras;
}
