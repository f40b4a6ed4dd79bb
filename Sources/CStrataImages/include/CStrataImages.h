#ifndef CSTRATAIMAGES_H
#define CSTRATAIMAGES_H
#include <stddef.h>

/// A decoded image: 8-bit samples, row-major, `channels` interleaved (1 gray, 3 RGB).
typedef struct {
  int width, height, channels;
  unsigned char *pixels;  // free with strata_free_image
} strata_image;

/// Decodes a PNG or JPEG file (recognized by its first bytes) into `channels` (1 or 3) samples a pixel,
/// as TensorFlow's decoders do. An image of more than `max_pixels` pixels is refused before it is
/// decoded; a file that is not regular is never read. Returns 0 on success; otherwise writes a message
/// to `error` and returns non-zero. A corrupt or truncated file is an error, never an exit or a warning:
/// libjpeg's handlers return here through setjmp.
int strata_decode_image(const char *path, int channels, size_t max_pixels, strata_image *image, char *error,
                        size_t error_size);

void strata_free_image(strata_image *image);

/// Encodes `width` x `height` pixels of `channels` (1 gray, 3 RGB) 8-bit samples as a PNG file at
/// `path`. Returns 0 on success; otherwise writes a message to `error` and returns non-zero.
int strata_encode_png(const char *path, const unsigned char *pixels, int width, int height, int channels,
                      char *error, size_t error_size);

/// Encodes the same pixels as a baseline JPEG of `quality` (1 to 100).
int strata_encode_jpeg(const char *path, const unsigned char *pixels, int width, int height, int channels,
                       int quality, char *error, size_t error_size);
#endif
