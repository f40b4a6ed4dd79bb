#ifndef STRATAAUTOLOAD_H
#define STRATAAUTOLOAD_H
// Intentionally empty: this target only installs the built-ins hook at load time (see autoload.c).
#endif
