// Installs the `Strata` module's built-in registration as the core's hook when the program loads.
// It only stores a function pointer: no Swift code runs before `main`.
#include "CStrataHook.h"

// Defined by the module that links this one (a @_cdecl in Sources/Strata/BuiltIns.swift): the one
// link-time reference that points up the dependency arrows, and why only `Strata` depends on this target.
extern void strata_register_builtins(void);

__attribute__((constructor)) static void strata_install_builtins_hook(void) {
  strata_builtins_hook = strata_register_builtins;
}
