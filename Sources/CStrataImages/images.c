#include "CStrataImages.h"
#include <setjmp.h>
#include <stdio.h>  // before jpeglib.h, which uses FILE
#include <stdlib.h>
#include <string.h>
#include <jpeglib.h>
#include <png.h>

void strata_free_image(strata_image *image) {
  free(image->pixels);
  image->pixels = NULL;
}

static int decode_png(const char *path, int channels, strata_image *image, char *error, size_t error_size) {
  png_image png;
  memset(&png, 0, sizeof png);
  png.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_file(&png, path)) {
    snprintf(error, error_size, "is not a readable PNG (%s)", png.message);
    return 1;
  }
  png.format = channels == 1 ? PNG_FORMAT_GRAY : PNG_FORMAT_RGB;
  size_t size = PNG_IMAGE_SIZE(png);
  image->pixels = malloc(size ? size : 1);
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

static int decode_jpeg(FILE *file, int channels, strata_image *image, char *error, size_t error_size) {
  struct jpeg_decompress_struct info;
  struct jpeg_failure failure;
  info.err = jpeg_std_error(&failure.manager);
  failure.manager.error_exit = jpeg_fail;
  image->pixels = NULL;
  if (setjmp(failure.jump)) {
    char message[JMSG_LENGTH_MAX];
    (*info.err->format_message)((j_common_ptr)&info, message);
    snprintf(error, error_size, "is a corrupt JPEG (%s)", message);
    jpeg_destroy_decompress(&info);
    strata_free_image(image);
    return 1;
  }
  jpeg_create_decompress(&info);
  jpeg_stdio_src(&info, file);
  jpeg_read_header(&info, TRUE);
  info.out_color_space = channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_start_decompress(&info);
  size_t stride = (size_t)info.output_width * (size_t)info.output_components;
  image->pixels = malloc(stride * info.output_height + 1);
  if (!image->pixels) {
    jpeg_destroy_decompress(&info);
    snprintf(error, error_size, "is too large to decode");
    return 1;
  }
  while (info.output_scanline < info.output_height) {
    JSAMPROW row = image->pixels + stride * info.output_scanline;
    jpeg_read_scanlines(&info, &row, 1);
  }
  image->width = (int)info.output_width;
  image->height = (int)info.output_height;
  image->channels = info.output_components;
  jpeg_finish_decompress(&info);
  jpeg_destroy_decompress(&info);
  return 0;
}

int strata_decode_image(const char *path, int channels, strata_image *image, char *error, size_t error_size) {
  memset(image, 0, sizeof *image);
  if (channels != 1 && channels != 3) {
    snprintf(error, error_size, "cannot be decoded to %d channels (1 or 3)", channels);
    return 1;
  }
  FILE *file = fopen(path, "rb");
  if (!file) {
    snprintf(error, error_size, "cannot be opened");
    return 1;
  }
  unsigned char magic[8] = {0};
  size_t got = fread(magic, 1, sizeof magic, file);
  int status;
  if (got >= 8 && png_sig_cmp(magic, 0, 8) == 0) {
    fclose(file);
    return decode_png(path, channels, image, error, error_size);
  } else if (got >= 3 && magic[0] == 0xFF && magic[1] == 0xD8 && magic[2] == 0xFF) {
    rewind(file);
    status = decode_jpeg(file, channels, image, error, error_size);
  } else {
    snprintf(error, error_size, "is neither a PNG nor a JPEG file");
    status = 1;
  }
  fclose(file);
  return status;
}
