// Installs the `Strata` module's built-in registration as the core's hook when the program loads.
// It only stores a function pointer: no Swift code runs before `main`.
extern void (*strata_builtins_hook)(void);
extern void strata_register_builtins(void);  // @_cdecl in Sources/Strata/BuiltIns.swift

__attribute__((constructor)) static void strata_install_builtins_hook(void) {
  strata_builtins_hook = strata_register_builtins;
}
