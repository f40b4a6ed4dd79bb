#ifndef CSTRATAKERNELS_H
#define CSTRATAKERNELS_H
#include <stddef.h>

// Optimizer updates whose square roots Swift cannot vectorize: Swift's Float.squareRoot() goes through
// libm's sqrtf (with its errno branch), which keeps LLVM from vectorizing the loop. These use clang's
// element-wise sqrt, which has no such branch, and are built for AVX2 and the baseline at once. Each
// follows Keras 3's update rule exactly.

/// Adam: m += (g - m)(1 - b1); v += (g² - v)(1 - b2); [vhat = max(vhat, v)]; w -= alpha m / (sqrt(v|vhat) + eps).
void strata_adam(float *w, const float *g, float *m, float *v, float *vhat, size_t n, float alpha, float beta1,
                 float beta2, float epsilon);

/// RMSprop: v = rho v + (1-rho) g²; [mg = rho mg + (1-rho) g]; inc = lr g / sqrt(v [- mg²] + eps);
/// [mom = momentum mom + inc; w -= mom] or w -= inc.
void strata_rmsprop(float *w, const float *g, float *v, float *mom, float *mg, size_t n, float lr, float rho,
                    float momentum, float epsilon, int centered);

/// Adagrad: acc += g²; w -= lr g / sqrt(acc + eps).
void strata_adagrad(float *w, const float *g, float *acc, size_t n, float lr, float epsilon);

/// Adadelta: ag = rho ag + (1-rho) g²; d = -sqrt(ad + eps) g / sqrt(ag + eps); ad = rho ad + (1-rho) d²; w += lr d.
void strata_adadelta(float *w, const float *g, float *ag, float *ad, size_t n, float lr, float rho, float epsilon);

/// Nadam: m, v as Adam; w -= lr (muNext m / (1 - prodNext) + (1 - muT) g / (1 - prodT)) / (sqrt(v / (1 - b2pow)) + eps).
void strata_nadam(float *w, const float *g, float *m, float *v, size_t n, float lr, float beta1, float beta2,
                  float epsilon, float muT, float muNext, float prodT, float prodNext, float beta2Power);
#endif

#ifndef CSTRATAKERNELS_DENORMALS
#define CSTRATAKERNELS_DENORMALS
/// Makes the calling thread flush denormal floats to zero (x86: MXCSR FTZ and DAZ; ARM64: FPCR FZ), as
/// TensorFlow does while training: denormals are thousands of times slower and carry no useful
/// information in a gradient step. Returns the previous state for strata_restore_float_mode.
unsigned long strata_flush_denormals(void);
void strata_restore_float_mode(unsigned long previous);
#endif

#ifndef CSTRATAKERNELS_RELU
#define CSTRATAKERNELS_RELU
/// ReLU forward (`y = max(x, 0)`, 0 at x = 0) and backward (`dx = x > 0 ? dy : 0`). Built for AVX2 and
/// the baseline at once (`target_clones`, see `clones.h`); the loader picks the one this CPU runs.
void strata_relu_forward(const float *x, float *y, size_t n);
void strata_relu_backward(const float *x, const float *dy, float *dx, size_t n);
#endif

#ifndef CSTRATAKERNELS_POOLING
#define CSTRATAKERNELS_POOLING
/// Max pooling of channels-last images. `geometry` holds 12 numbers: batch, height, width, channels,
/// pool height and width, stride height and width, padding top and left, output height and width.
/// Padding never wins; the first maximum of a window does; NaN never does.
void strata_max_pooling(const float *x, float *y, const long *geometry);
/// The mean of each channel over each image's `pixels` (channels-last).
void strata_global_average_pooling(const float *x, float *y, long batch, long pixels, long channels);
/// Its backward pass: `dx` zeroed, then each output gradient added at its window's first maximum.
void strata_max_pooling_backward(const float *x, const float *dy, float *dx, const long *geometry);
#endif

#ifndef CSTRATAKERNELS_SMALL_GEMM
#define CSTRATAKERNELS_SMALL_GEMM
/// Whether strata_small_gemm runs a product of this size here: AVX-512, at most 32 rows, `n` a
/// multiple of 32, `b` (`k × n`) at most 256 Ki floats (it stays in the cache).
int strata_small_gemm_fits(long m, long n, long k);
/// `c = a · b` (`zero` ≠ 0) or `c += a · b`, row-major, neither transposed, `b` read in place
/// (no packing). Only for sizes strata_small_gemm_fits accepts.
void strata_small_gemm(long m, long n, long k, const float *a, const float *b, int zero, float *c);
#endif

#ifndef CSTRATAKERNELS_LSTM
#define CSTRATAKERNELS_LSTM
/// One LSTM step for one batch row, Keras' gates i, f, c, o: `z` the row's pre-activations (4·units),
/// `gates` and `tanh_c` what the backward pass keeps, `c` and `h` the states (updated when `keep`),
/// `out` the row's output (NULL: not written; a masked step writes the previous `h`, or zeros with
/// `zero_output`). Built for AVX-512, AVX2 and the baseline.
void strata_lstm_forward_row(const float *z, float *gates, float *tanh_c, float *c, float *h, float *out,
                             long units, int keep, int zero_output);
/// Its backward pass for the row: `dz` (4·units) from the kept gates, `tanh_c`, the previous cell
/// `c_prev` and the output gradient `d_out` (NULL: none at this step); `dh` and `dc` carry the
/// state gradients to the step before. `m` is 1 for a real step, 0 for a masked one.
void strata_lstm_backward_row(const float *gates, const float *tanh_c, const float *c_prev, const float *d_out,
                              float *dh, float *dc, float *dz, long units, float m, int zero_output);
#endif

#ifndef CSTRATAKERNELS_LAYER_NORM
#define CSTRATAKERNELS_LAYER_NORM
/// Layer normalization of `rows` rows of `n`: `y = (x - mean) / sqrt(var + epsilon) · gamma + beta`
/// (`gamma`, `beta` NULL: none). `xhat` (rows·n) and `inv` (rows), when not NULL, keep the
/// normalized values and each row's 1/sqrt(var + epsilon) for the backward pass.
void strata_layer_norm_forward(const float *x, const float *gamma, const float *beta, float *y, float *xhat,
                               float *inv, long rows, long n, float epsilon);
/// Its backward pass: `dx` from `dy`, `xhat`, `inv` and `gamma`; adds to `dgamma` and `dbeta` (each
/// `n`, NULL: not wanted).
void strata_layer_norm_backward(const float *dy, const float *xhat, const float *inv, const float *gamma,
                                float *dx, float *dgamma, float *dbeta, long rows, long n);
#endif

#ifndef CSTRATAKERNELS_SOFTMAX
#define CSTRATAKERNELS_SOFTMAX
/// Softmax of `rows` rows of `n` (the maximum subtracted first), and its backward pass
/// `dx = y ⊙ (dy - Σ dy ⊙ y)`.
void strata_softmax_forward(const float *x, float *y, long rows, long n);
void strata_softmax_backward(const float *y, const float *dy, float *dx, long rows, long n);
#endif

#ifndef CSTRATAKERNELS_BATCH_NORM
#define CSTRATAKERNELS_BATCH_NORM
/// Per channel of a channels-last batch: `sums[c] = Σ x`, `products[c] = Σ x·y` (`y` NULL: x·x).
void strata_bn_sums(const float *x, const float *y, long rows, long channels, double *sums, double *products);
/// Per channel: `sums[c] = Σ x`, `squares[c] = Σ x²`, each product in double.
void strata_bn_sums_of_squares(const float *x, long rows, long channels, double *sums, double *squares);
/// `xhat = (x - mean[c]) · inv[c]`.
void strata_bn_normalize(const float *x, const float *mean, const float *inv, float *xhat, long rows,
                         long channels);
/// Inference: `y = activation(x · scale[c] + shift[c])` in one pass; `activation` 0 none, 1 relu,
/// 2 relu6, 3 swish.
void strata_bn_inference(const float *x, const float *scale, const float *shift, float *y, long rows,
                         long channels, int activation);
/// The same, reading each row's first `channels` values `x_stride` apart (the first channels of a
/// wider tensor: a DenseNet block's buffer); `y` is dense.
void strata_bn_inference_strided(const float *x, long x_stride, const float *scale, const float *shift, float *y,
                                 long rows, long channels, int activation);
/// `dx = scale[c] · (dy - mean_dy[c] - xhat · mean_product[c])` with batch statistics, or
/// `dx = scale[c] · dy` when `xhat` is NULL (moving statistics).
void strata_bn_input_gradient(const float *dy, const float *xhat, const float *scale, const float *mean_dy,
                              const float *mean_product, float *dx, long rows, long channels);
#endif

#ifndef CSTRATAKERNELS_GRU
#define CSTRATAKERNELS_GRU
/// One GRU step (reset_after, gates z, r, h̃) for one row: `p` the projected input (3·units), `inner`
/// the state's product by the recurrent kernel (3·units), `bias` the recurrent bias or NULL; keeps
/// the gates and the candidate's recurrent part, updates `h` when `keep`, writes `out` as the LSTM's.
void strata_gru_forward_row(const float *p, const float *inner, const float *bias, float *gates, float *candidates,
                            float *h, float *out, long units, int keep, int zero_output);
/// One SimpleRNN step (tanh) for one row; `gates` keeps the new state.
void strata_simple_rnn_forward_row(const float *p, const float *inner, float *gates, float *h, float *out,
                                   long units, int keep, int zero_output);
/// Their backward passes for one row: `dp` the projected input's gradient, `di` the product's,
/// `dh` the state's carried to the step before.
void strata_gru_backward_row(const float *gates, const float *candidates, const float *previous,
                             const float *d_out, float *dh, float *dp, float *di, long units, float m,
                             int zero_output);
void strata_simple_rnn_backward_row(const float *gates, const float *d_out, float *dh, float *dp, float *di,
                                    long units, float m, int zero_output);
#endif
