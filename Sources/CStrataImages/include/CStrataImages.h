#ifndef CSTRATAIMAGES_H
#define CSTRATAIMAGES_H
#include <stddef.h>

/// A decoded image: 8-bit samples, row-major, `channels` interleaved (1 gray, 3 RGB).
typedef struct {
  int width, height, channels;
  unsigned char *pixels;  // free with strata_free_image
} strata_image;

/// Decodes a PNG or JPEG file (recognized by its first bytes) into `channels` (1 or 3) samples a pixel.
/// Returns 0 on success; otherwise writes a message to `error` and returns non-zero. A corrupt file is an
/// error, never an exit: libjpeg's error handler returns here through setjmp.
int strata_decode_image(const char *path, int channels, strata_image *image, char *error, size_t error_size);

void strata_free_image(strata_image *image);
#endif
