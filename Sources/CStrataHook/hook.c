#include "CStrataHook.h"
void (*_Nullable strata_builtins_hook)(void) = 0;

void strata_run_builtins_hook(void) {
  if (strata_builtins_hook) strata_builtins_hook();
}

// The linker gathers every module's `strata_plugins` entries into one section and names its bounds
// (ELF); weak, so that a program with no entry links and finds none.
typedef void (*strata_plugin_entry)(void);
extern const strata_plugin_entry __start_strata_plugins[] __attribute__((weak));
extern const strata_plugin_entry __stop_strata_plugins[] __attribute__((weak));

void strata_announce_linked_plugins(void) {
  for (const strata_plugin_entry *entry = __start_strata_plugins; entry < __stop_strata_plugins;
       entry++) {
    if (*entry) (*entry)();
  }
}
