#ifndef CSTRATAHOOK_H
#define CSTRATAHOOK_H
/// Set at process start by the `Strata` module (a C constructor), called by `StrataCore` on the first
/// registry look-up so that `import Strata` registers every built-in with no call by the user.
/// Swift runs no code when a module loads; a C constructor is the one portable way to do so.
extern void (*_Nullable strata_builtins_hook)(void);

/// Calls the hook if one is installed.
void strata_run_builtins_hook(void);


/// Set at process start by the `StrataKeras` module (a C constructor), called by `Strata` the first time
/// a Keras file is read or written, so that linking StrataKeras is all it takes.
extern void (*_Nullable strata_keras_hook)(void);

/// Calls the Keras hook if one is installed.
void strata_run_keras_hook(void);
#endif
