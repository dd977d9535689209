/* brightness-worker: an example CoEdge worker in plain C (C11), for classification
 * models with a [3, H, W] input item (e.g. ResNet-18).
 *
 *   pre:  resizes the BGR camera frame to the model's H x W by nearest neighbour,
 *         writes it as planar RGB scaled to [0, 1], and hands the frame's mean
 *         brightness (BT.601 luma over all pixels, in [0, 1]) to post-processing in
 *         tensor->aux[0].
 *   post: the class with the largest output value, its softmax probability and the
 *         brightness: {"top_class":k,"score":s,"brightness":b}.
 *
 * Build (see docs/WORKER_SDK.md): with CMake, the target brightness-worker; by hand,
 *   cc -std=c11 -O2 -Isdk/include -c examples/worker/brightness_worker.c
 *   g++ brightness_worker.o <the SDK's static libraries> -lm -o brightness-worker
 * Use it with `worker: path/to/brightness-worker` in a node config
 * (examples/node/custom-worker.yaml).
 */
#include <coedge/worker.h>

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Larger frames or inputs than this are refused: keeps every size product in range. */
#define MAX_SIDE 16384

typedef struct state {
  int is_pre;
  int64_t in_h, in_w;        /* the model's input item is [3, in_h, in_w] */
  int64_t out_elements;      /* the model's output item, all axes multiplied */
  /* pre: for each output column, the byte offset of its source pixel within a frame row;
     recomputed when the frame width changes. */
  size_t* col_offset;
  int32_t col_for_width;     /* the frame width col_offset was made for; 0: none yet */
} state;

/* snprintf into the SDK's error buffer; always NUL-terminated, silently truncated. */
static void set_error(char* error, size_t error_size, const char* format, ...) {
  if (error == NULL || error_size == 0) return;
  va_list args;
  va_start(args, format);
  vsnprintf(error, error_size, format, args);
  va_end(args);
}

static void* brightness_init(const coedge_task_info* info, char* error, size_t error_size) {
  if (info->input_rank != 3 || info->input_shape[0] != 3) {
    set_error(error, error_size,
              "brightness-worker needs a model whose input item is [3, H, W]; model '%s' has rank %d "
              "with first axis %lld",
              info->model, (int)info->input_rank, (long long)info->input_shape[0]);
    return NULL;
  }
  if (info->input_shape[1] <= 0 || info->input_shape[1] > MAX_SIDE || info->input_shape[2] <= 0 ||
      info->input_shape[2] > MAX_SIDE) {
    set_error(error, error_size, "input size %lldx%lld is out of range (1..%d)",
              (long long)info->input_shape[2], (long long)info->input_shape[1], MAX_SIDE);
    return NULL;
  }
  if (info->output_rank < 1 || info->output_rank > COEDGE_MAX_RANK) {
    set_error(error, error_size, "the model's output item has rank %d", (int)info->output_rank);
    return NULL;
  }
  int64_t out_elements = 1;
  for (int32_t i = 0; i < info->output_rank; ++i) {
    if (info->output_shape[i] <= 0 || info->output_shape[i] > INT64_MAX / out_elements) {
      set_error(error, error_size, "bad output shape axis %d: %lld", (int)i,
                (long long)info->output_shape[i]);
      return NULL;
    }
    out_elements *= info->output_shape[i];
  }

  state* s = calloc(1, sizeof *s);
  if (s == NULL) {
    set_error(error, error_size, "out of memory");
    return NULL;
  }
  s->is_pre = strcmp(info->role, "pre") == 0;
  s->in_h = info->input_shape[1];
  s->in_w = info->input_shape[2];
  s->out_elements = out_elements;
  if (s->is_pre) {
    s->col_offset = malloc((size_t)s->in_w * sizeof *s->col_offset);
    if (s->col_offset == NULL) {
      free(s);
      set_error(error, error_size, "out of memory");
      return NULL;
    }
  }
  return s;
}

/* Nearest neighbour: output pixel i of n samples source pixel floor((i + 0.5) * src / n),
   i.e. the one under the output pixel's centre. */
static int64_t nearest(int64_t i, int64_t n, int64_t src) {
  int64_t at = ((2 * i + 1) * src) / (2 * n);
  return at < src ? at : src - 1;
}

static int brightness_pre(void* opaque, const coedge_frame* frame, coedge_tensor* tensor,
                          char* error, size_t error_size) {
  state* s = opaque;
  if (frame->channels != 3) {
    set_error(error, error_size, "frame has %d channels, expected 3 (BGR)", (int)frame->channels);
    return 1;
  }
  if (frame->width <= 0 || frame->height <= 0 || frame->width > MAX_SIDE ||
      frame->height > MAX_SIDE) {
    set_error(error, error_size, "frame size %dx%d is out of range (1..%d)", (int)frame->width,
              (int)frame->height, MAX_SIDE);
    return 1;
  }
  if (frame->stride < frame->width * 3) {
    set_error(error, error_size, "frame stride %d is less than 3 * width %d", (int)frame->stride,
              (int)frame->width);
    return 1;
  }
  if (frame->pixels == NULL) {
    set_error(error, error_size, "frame has no pixels");
    return 1;
  }
  const int64_t h = s->in_h, w = s->in_w;
  if (tensor->rank != 3 || tensor->shape[0] != 3 || tensor->shape[1] != h ||
      tensor->shape[2] != w || tensor->elements != (uint64_t)(3 * h * w) || tensor->data == NULL) {
    set_error(error, error_size, "input tensor is not [3, %lld, %lld]", (long long)h, (long long)w);
    return 1;
  }

  /* Mean brightness of the whole frame: BT.601 luma, 0.299 R + 0.587 G + 0.114 B. */
  uint64_t sum_b = 0, sum_g = 0, sum_r = 0;
  for (int32_t y = 0; y < frame->height; ++y) {
    const uint8_t* row = frame->pixels + (size_t)y * (size_t)frame->stride;
    for (int32_t x = 0; x < frame->width; ++x) {
      sum_b += row[3 * x];
      sum_g += row[3 * x + 1];
      sum_r += row[3 * x + 2];
    }
  }
  const double pixels = (double)frame->width * (double)frame->height;
  tensor->aux[0] = (0.299 * (double)sum_r + 0.587 * (double)sum_g + 0.114 * (double)sum_b) /
                   (pixels * 255.0);

  if (s->col_for_width != frame->width) {
    for (int64_t x = 0; x < w; ++x) {
      s->col_offset[x] = 3 * (size_t)nearest(x, w, frame->width);
    }
    s->col_for_width = frame->width;
  }
  const size_t plane = (size_t)h * (size_t)w;
  float* red = tensor->data;  /* channel 0 is R, 1 is G, 2 is B; the frame is BGR */
  float* green = red + plane;
  float* blue = green + plane;
  const float scale = 1.0f / 255.0f;
  for (int64_t y = 0; y < h; ++y) {
    const uint8_t* row =
        frame->pixels + (size_t)nearest(y, h, frame->height) * (size_t)frame->stride;
    const size_t base = (size_t)y * (size_t)w;
    for (int64_t x = 0; x < w; ++x) {
      const uint8_t* px = row + s->col_offset[x];
      blue[base + (size_t)x] = (float)px[0] * scale;
      green[base + (size_t)x] = (float)px[1] * scale;
      red[base + (size_t)x] = (float)px[2] * scale;
    }
  }
  return 0;
}

static int brightness_post(void* opaque, const coedge_output* output, char* result,
                           size_t result_size, char* error, size_t error_size) {
  const state* s = opaque;
  if (output->data == NULL || output->elements == 0) {
    set_error(error, error_size, "empty output");
    return 1;
  }
  if (output->elements != (uint64_t)s->out_elements) {
    set_error(error, error_size, "output has %llu values, expected %lld",
              (unsigned long long)output->elements, (long long)s->out_elements);
    return 1;
  }

  /* argmax, skipping NaN; then the softmax probability of the winner (stable form). */
  uint64_t best = 0;
  int found = 0;
  for (uint64_t i = 0; i < output->elements; ++i) {
    const float v = output->data[i];
    if (isnan(v)) continue;
    if (!found || v > output->data[best]) {
      best = i;
      found = 1;
    }
  }
  if (!found) {
    set_error(error, error_size, "the output holds only NaN");
    return 1;
  }
  const double top = output->data[best];
  double score;
  if (isinf(top)) {
    score = top > 0 ? 1.0 : 1.0 / (double)output->elements;  /* +inf wins; all -inf: uniform */
  } else {
    double sum = 0.0;
    for (uint64_t i = 0; i < output->elements; ++i) {
      const float v = output->data[i];
      if (!isnan(v)) sum += exp((double)v - top);
    }
    score = 1.0 / sum;  /* exp(top - top) / sum; sum >= 1 */
  }
  double brightness = output->aux[0];
  if (!isfinite(brightness)) brightness = 0.0;  /* keep the JSON valid whatever happens */

  const int n = snprintf(result, result_size, "{\"top_class\":%llu,\"score\":%.6f,\"brightness\":%.4f}",
                         (unsigned long long)best, score, brightness);
  if (n < 0 || (size_t)n >= result_size) {
    if (result_size > 0) result[0] = '\0';  /* never leave a truncated JSON object behind */
    set_error(error, error_size, "result does not fit in %zu bytes", result_size);
    return 1;
  }
  return 0;
}

static void brightness_fini(void* opaque) {
  state* s = opaque;
  if (s == NULL) return;
  free(s->col_offset);
  free(s);
}

int main(int argc, char** argv) {
  static const coedge_worker_callbacks callbacks = {
      .abi_version = COEDGE_WORKER_ABI_VERSION,
      .init = brightness_init,
      .pre = brightness_pre,
      .post = brightness_post,
      .fini = brightness_fini,
  };
  return coedge_worker_main(argc, argv, &callbacks);
}
