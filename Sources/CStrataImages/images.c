#include "CStrataImages.h"
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdio.h>  // before jpeglib.h, which uses FILE
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <jpeglib.h>
#include <png.h>

// Every decoder here follows TensorFlow's (tf.io.decode_png / decode_jpeg, which Keras'
// image_dataset_from_directory uses): alpha is dropped, not composited; gray comes from RGB with
// libpng's integer weights for 0.299 and 0.587; CMYK JPEGs become RGB as Adobe writes them. The
// image's size is checked against `max_pixels` before any pixel is allocated, and every buffer is
// allocated zeroed, so no byte of it is ever read uninitialised.

void strata_free_image(strata_image *image) {
  free(image->pixels);
  image->pixels = NULL;
}

// gray = (9798 R + 19235 G + 3735 B) / 32768, rounded: libpng's png_set_rgb_to_gray(…, 0.299, 0.587).
static unsigned char gray_of(unsigned r, unsigned g, unsigned b) {
  return (unsigned char)((9798u * r + 19235u * g + 3735u * b + 16384u) >> 15);
}

// Packs `count` pixels of `from` channels (2: gray and alpha, into 1; 4: RGBA, into 1 or 3) in place.
// Alpha is dropped. In place is safe: the output never runs ahead of the input.
static void pack(unsigned char *pixels, size_t count, int from, int channels) {
  for (size_t i = 0; i < count; i++) {
    const unsigned char *p = pixels + i * (size_t)from;
    if (from == 2) {
      unsigned char v = p[0];
      pixels[i] = v;
    } else if (channels == 1) {
      pixels[i] = gray_of(p[0], p[1], p[2]);
    } else {
      unsigned char r = p[0], g = p[1], b = p[2];
      pixels[3 * i] = r, pixels[3 * i + 1] = g, pixels[3 * i + 2] = b;
    }
  }
}

static int too_large(unsigned long width, unsigned long height, size_t max_pixels, char *error, size_t error_size) {
  if (width == 0 || height == 0 || (unsigned long long)width * height > max_pixels) {
    snprintf(error, error_size, "is %lux%lu pixels; at most %zu pixels are decoded (a larger image is refused)", width,
             height, max_pixels);
    return 1;
  }
  return 0;
}

static int decode_png(FILE *file, int channels, size_t max_pixels, strata_image *image, char *error, size_t error_size) {
  png_image png;
  memset(&png, 0, sizeof png);
  png.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_stdio(&png, file)) {
    snprintf(error, error_size, "is not a readable PNG (%s)", png.message);
    return 1;
  }
  if (too_large(png.width, png.height, max_pixels, error, error_size)) {
    png_image_free(&png);
    return 1;
  }
  // Read with alpha (gray and alpha, or RGBA) so libpng composites nothing, then drop it.
  // (Gray into RGB goes through RGBA: libpng repeats the gray value, and packing never overtakes.)
  int from = (png.format & PNG_FORMAT_FLAG_COLOR) || channels == 3 ? 4 : 2;
  png.format = from == 2 ? PNG_FORMAT_GA : PNG_FORMAT_RGBA;
  size_t size = PNG_IMAGE_SIZE(png);
  image->pixels = calloc(size ? size : 1, 1);
  if (!image->pixels) {
    png_image_free(&png);
    snprintf(error, error_size, "is too large to decode");
    return 1;
  }
  if (!png_image_finish_read(&png, NULL, image->pixels, 0, NULL)) {
    snprintf(error, error_size, "is a corrupt PNG (%s)", png.message);
    strata_free_image(image);
    return 1;
  }
  pack(image->pixels, (size_t)png.width * png.height, from, channels);
  image->width = (int)png.width;
  image->height = (int)png.height;
  image->channels = channels;
  return 0;
}

struct jpeg_failure {
  struct jpeg_error_mgr manager;
  jmp_buf jump;
};

static void jpeg_fail(j_common_ptr info) {
  struct jpeg_failure *failure = (struct jpeg_failure *)info->err;
  longjmp(failure->jump, 1);
}

// Warnings (a truncated file, corrupt data libjpeg papers over) are errors too; nothing is printed.
static void jpeg_warning(j_common_ptr info, int level) {
  if (level < 0) {
    struct jpeg_failure *failure = (struct jpeg_failure *)info->err;
    info->err->num_warnings++;
    if (info->err->num_warnings == 1) longjmp(failure->jump, 1);
  }
}

static int decode_jpeg(FILE *file, int channels, size_t max_pixels, strata_image *image, char *error, size_t error_size) {
  struct jpeg_decompress_struct info;
  struct jpeg_failure failure;
  memset(&info, 0, sizeof info);
  info.err = jpeg_std_error(&failure.manager);
  failure.manager.error_exit = jpeg_fail;
  failure.manager.emit_message = jpeg_warning;
  image->pixels = NULL;
  if (setjmp(failure.jump)) {
    char message[JMSG_LENGTH_MAX];
    (*info.err->format_message)((j_common_ptr)&info, message);
    snprintf(error, error_size, "is a corrupt or truncated JPEG (%s)", message);
    jpeg_destroy_decompress(&info);
    strata_free_image(image);
    return 1;
  }
  jpeg_create_decompress(&info);
  jpeg_stdio_src(&info, file);
  jpeg_read_header(&info, TRUE);
  if (too_large(info.image_width, info.image_height, max_pixels, error, error_size)) {
    jpeg_destroy_decompress(&info);
    return 1;
  }
  int cmyk = info.jpeg_color_space == JCS_CMYK || info.jpeg_color_space == JCS_YCCK;
  info.out_color_space = cmyk ? JCS_CMYK : channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_start_decompress(&info);
  size_t stride = (size_t)info.output_width * (size_t)info.output_components;
  image->pixels = calloc(stride * info.output_height + 1, 1);
  if (!image->pixels) {
    jpeg_destroy_decompress(&info);
    snprintf(error, error_size, "is too large to decode");
    return 1;
  }
  while (info.output_scanline < info.output_height) {
    JSAMPROW row = image->pixels + stride * info.output_scanline;
    jpeg_read_scanlines(&info, &row, 1);
  }
  size_t count = (size_t)info.output_width * info.output_height;
  if (cmyk) {
    // Adobe's inverted CMYK, as TensorFlow converts it: R = C·K/255, G = M·K/255, B = Y·K/255.
    for (size_t i = 0; i < count; i++) {
      unsigned char *p = image->pixels + 4 * i;
      unsigned k = p[3];
      p[0] = (unsigned char)(p[0] * k / 255), p[1] = (unsigned char)(p[1] * k / 255), p[2] = (unsigned char)(p[2] * k / 255);
    }
    pack(image->pixels, count, 4, channels);
  }
  image->width = (int)info.output_width;
  image->height = (int)info.output_height;
  image->channels = channels;
  jpeg_finish_decompress(&info);
  jpeg_destroy_decompress(&info);
  return 0;
}

int strata_decode_image(const char *path, int channels, size_t max_pixels, strata_image *image, char *error,
                        size_t error_size) {
  memset(image, 0, sizeof *image);
  if (channels != 1 && channels != 3) {
    snprintf(error, error_size, "cannot be decoded to %d channels (1 or 3)", channels);
    return 1;
  }
  // O_NONBLOCK: a FIFO that slipped past the caller's check fails here instead of blocking for ever.
  int descriptor = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (descriptor < 0) {
    snprintf(error, error_size, "cannot be opened");
    return 1;
  }
  struct stat status;
  if (fstat(descriptor, &status) != 0 || !S_ISREG(status.st_mode)) {
    close(descriptor);
    snprintf(error, error_size, "is not a regular file");
    return 1;
  }
  FILE *file = fdopen(descriptor, "rb");
  if (!file) {
    close(descriptor);
    snprintf(error, error_size, "cannot be opened");
    return 1;
  }
  unsigned char magic[8] = {0};
  size_t got = fread(magic, 1, sizeof magic, file);
  int status_code;
  rewind(file);
  if (got >= 8 && png_sig_cmp(magic, 0, 8) == 0) {
    status_code = decode_png(file, channels, max_pixels, image, error, error_size);
  } else if (got >= 3 && magic[0] == 0xFF && magic[1] == 0xD8 && magic[2] == 0xFF) {
    status_code = decode_jpeg(file, channels, max_pixels, image, error, error_size);
  } else if (got >= 2 && magic[0] == 'B' && magic[1] == 'M') {
    snprintf(error, error_size, "is a BMP image, which Strata does not decode yet (convert it to PNG)");
    status_code = 1;
  } else if (got >= 6 && memcmp(magic, "GIF8", 4) == 0) {
    snprintf(error, error_size, "is a GIF image, which Strata does not decode yet (convert it to PNG)");
    status_code = 1;
  } else {
    snprintf(error, error_size, "is neither a PNG nor a JPEG file");
    status_code = 1;
  }
  fclose(file);
  return status_code;
}

int strata_encode_png(const char *path, const unsigned char *pixels, int width, int height, int channels,
                      char *error, size_t error_size) {
  png_image png;
  memset(&png, 0, sizeof png);
  png.version = PNG_IMAGE_VERSION;
  png.width = (png_uint_32)width;
  png.height = (png_uint_32)height;
  png.format = channels == 1 ? PNG_FORMAT_GRAY : PNG_FORMAT_RGB;
  if (!png_image_write_to_file(&png, path, 0, pixels, 0, NULL)) {
    snprintf(error, error_size, "cannot be written as PNG (%s)", png.message);
    return 1;
  }
  return 0;
}

int strata_encode_jpeg(const char *path, const unsigned char *pixels, int width, int height, int channels,
                       int quality, char *error, size_t error_size) {
  FILE *file = fopen(path, "wb");
  if (!file) {
    snprintf(error, error_size, "cannot be created (%s)", strerror(errno));
    return 1;
  }
  struct jpeg_compress_struct info;
  struct jpeg_failure failure;
  memset(&info, 0, sizeof info);
  info.err = jpeg_std_error(&failure.manager);
  failure.manager.error_exit = jpeg_fail;
  if (setjmp(failure.jump)) {
    char message[JMSG_LENGTH_MAX];
    (*info.err->format_message)((j_common_ptr)&info, message);
    snprintf(error, error_size, "cannot be written as JPEG (%s)", message);
    jpeg_destroy_compress(&info);
    fclose(file);
    return 1;
  }
  jpeg_create_compress(&info);
  jpeg_stdio_dest(&info, file);
  info.image_width = (JDIMENSION)width;
  info.image_height = (JDIMENSION)height;
  info.input_components = channels;
  info.in_color_space = channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_set_defaults(&info);
  jpeg_set_quality(&info, quality, TRUE);
  jpeg_start_compress(&info, TRUE);
  size_t stride = (size_t)width * (size_t)channels;
  while (info.next_scanline < info.image_height) {
    JSAMPROW row = (JSAMPROW)(pixels + stride * info.next_scanline);
    jpeg_write_scanlines(&info, &row, 1);
  }
  jpeg_finish_compress(&info);
  jpeg_destroy_compress(&info);
  if (fclose(file) != 0) {
    snprintf(error, error_size, "cannot be written (%s)", strerror(errno));
    return 1;
  }
  return 0;
}
