#include <math.h>
#include <string.h>

#include "CStrataKernels.h"
#include "clones.h"

// Channels-last max pooling. The channels of one pixel are contiguous, so every inner loop runs along
// them and vectorizes; the window is visited row by row, and a later element wins only when it is
// strictly greater, so the first maximum wins and NaN never does (as the reference and TensorFlow).

STRATA_CLONES void strata_max_pooling(const float *restrict x, float *restrict y, const long *restrict geometry) {
  const long batch = geometry[0], height = geometry[1], width = geometry[2], channels = geometry[3];
  const long poolHeight = geometry[4], poolWidth = geometry[5], strideHeight = geometry[6],
             strideWidth = geometry[7], padTop = geometry[8], padLeft = geometry[9];
  const long outputHeight = geometry[10], outputWidth = geometry[11];
  for (long n = 0; n < batch; n++) {
    for (long oy = 0; oy < outputHeight; oy++) {
      for (long ox = 0; ox < outputWidth; ox++) {
        float *restrict out = y + ((n * outputHeight + oy) * outputWidth + ox) * channels;
        for (long c = 0; c < channels; c++) out[c] = -INFINITY;
        for (long py = 0; py < poolHeight; py++) {
          const long iy = oy * strideHeight + py - padTop;
          if (iy < 0 || iy >= height) continue;
          for (long px = 0; px < poolWidth; px++) {
            const long ix = ox * strideWidth + px - padLeft;
            if (ix < 0 || ix >= width) continue;
            const float *restrict in = x + ((n * height + iy) * width + ix) * channels;
            for (long c = 0; c < channels; c++) out[c] = in[c] > out[c] ? in[c] : out[c];
          }
        }
      }
    }
  }
}

enum { STRATA_POOL_CHUNK = 64 };

STRATA_CLONES void strata_max_pooling_backward(const float *restrict x, const float *restrict dy, float *restrict dx,
                                               const long *restrict geometry) {
  const long batch = geometry[0], height = geometry[1], width = geometry[2], channels = geometry[3];
  const long poolHeight = geometry[4], poolWidth = geometry[5], strideHeight = geometry[6],
             strideWidth = geometry[7], padTop = geometry[8], padLeft = geometry[9];
  const long outputHeight = geometry[10], outputWidth = geometry[11];
  const int tiled = strideHeight == poolHeight && strideWidth == poolWidth && padTop == 0 && padLeft == 0 &&
                    outputHeight * poolHeight == height && outputWidth * poolWidth == width;
  // Windows that tile the image write every pixel of dx below; otherwise the uncovered ones are zeros.
  if (!tiled) memset(dx, 0, (size_t)(batch * height * width * channels) * sizeof(float));
  // Windows that do not overlap give each input pixel one window at most: its gradient is written (the
  // winner's, else 0); overlapping ones add, in the reference's order.
  const int overlap = strideHeight < poolHeight || strideWidth < poolWidth;
  float best[STRATA_POOL_CHUNK];
  long winner[STRATA_POOL_CHUNK];
  for (long n = 0; n < batch; n++) {
    for (long oy = 0; oy < outputHeight; oy++) {
      for (long ox = 0; ox < outputWidth; ox++) {
        const float *restrict gradient = dy + ((n * outputHeight + oy) * outputWidth + ox) * channels;
        for (long c0 = 0; c0 < channels; c0 += STRATA_POOL_CHUNK) {
          const long count = channels - c0 < STRATA_POOL_CHUNK ? channels - c0 : STRATA_POOL_CHUNK;
          for (long j = 0; j < count; j++) {
            best[j] = -INFINITY;
            winner[j] = -1;
          }
          // Pass 0 finds each channel's first maximum (by its place k in the window), pass 1 routes the
          // gradient to it; both visit the window in the same order, so k names the same pixel.
          for (int pass = 0; pass < 2; pass++) {
            long k = 0;
            for (long py = 0; py < poolHeight; py++) {
              const long iy = oy * strideHeight + py - padTop;
              if (iy < 0 || iy >= height) continue;
              for (long px = 0; px < poolWidth; px++, k++) {
                const long ix = ox * strideWidth + px - padLeft;
                if (ix < 0 || ix >= width) continue;
                const long at = ((n * height + iy) * width + ix) * channels + c0;
                if (pass == 0) {
                  const float *restrict in = x + at;
                  for (long j = 0; j < count; j++) {
                    const int wins = in[j] > best[j];
                    best[j] = wins ? in[j] : best[j];
                    winner[j] = wins ? k : winner[j];
                  }
                } else if (overlap) {
                  float *restrict out = dx + at;
                  for (long j = 0; j < count; j++) out[j] += winner[j] == k ? gradient[c0 + j] : 0;
                } else {
                  float *restrict out = dx + at;
                  for (long j = 0; j < count; j++) out[j] = winner[j] == k ? gradient[c0 + j] : 0;
                }
              }
            }
          }
        }
      }
    }
  }
}

// Channels-last global average pooling: each image's pixels summed in order per channel (the
// loop over channels vectorizes), then divided by the pixel count, as the Swift loop did.
STRATA_CLONES void strata_global_average_pooling(const float *restrict x, float *restrict y, long batch, long pixels,
                                                long channels) {
  for (long n = 0; n < batch; n++) {
    float *restrict out = y + n * channels;
    for (long c = 0; c < channels; c++) out[c] = 0;
    for (long p = 0; p < pixels; p++) {
      const float *restrict in = x + (n * pixels + p) * channels;
      for (long c = 0; c < channels; c++) out[c] += in[c];
    }
    for (long c = 0; c < channels; c++) out[c] /= (float)pixels;
  }
}
