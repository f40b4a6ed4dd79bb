#ifndef STRATAKERASAUTOLOAD_H
#define STRATAKERASAUTOLOAD_H
// Intentionally empty: this target only installs the Keras hook at load time (see autoload.c).
#endif
