/* The CoEdge worker SDK: write a task's own pre- and post-processing as a small program,
 * and the node agent runs it in a sandbox next to the shared inference server.
 *
 * A worker is one executable with four callbacks. The node agent starts it twice per
 * task, once as the pre-processing worker and once as the post-processing worker
 * (`--role pre|post` among the arguments it passes), and coedge_worker_main() does the
 * rest: it connects to the node's shared memory, waits for work, calls your callback
 * with data that lies in shared memory (read it in place; nothing is copied), sends the
 * result on, and reports every job to the agent's accounting. It returns when the agent
 * stops the worker (SIGTERM or SIGINT).
 *
 *   pre:  a camera frame (8-bit BGR pixels)  ->  your model's input item (float32, e.g.
 *         [3, H, W]) written straight into the shared-memory tensor you are given.
 *   post: your model's output for this job (float32)  ->  a result, as one JSON object,
 *         which the SDK sends to the node agent; the agent checks it and appends it to
 *         RUN_DIR/results/<task>.jsonl (the worker writes no file of its own).
 * Return 0 for success. A non-zero return drops that one job (counted as dropped, with
 * your message in the node's log); the worker carries on with the next one. A crash or a
 * hang drops the jobs the worker held, and the agent restarts it.
 *
 * Plain C, so a worker can be written in C, C++ or anything that can call C. See
 * docs/WORKER_SDK.md and examples/worker/. Each callback runs on the worker's one thread.
 */
#ifndef COEDGE_WORKER_H_
#define COEDGE_WORKER_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* 2: results go to the agent through shared memory, and the agent refuses a worker built
   against another version (docs/WORKER_SDK.md, "ABI versioning").
   3: the shared-memory protocol is checked (a pre worker gets a ticket per job and never
   writes the frame; tensors name their job by id and job-table slot; a worker whose
   message breaks the protocol is killed: docs/WORKER_SDK.md, "What a worker may send").
   The callbacks are the same as in 1 and 2: a worker's source compiles unchanged, and
   callbacks that say 1 or 2 are accepted; the worker must be rebuilt (relinked with this
   SDK). */
#define COEDGE_WORKER_ABI_VERSION 3
#define COEDGE_MAX_RANK 6

typedef struct coedge_task_info {
  const char* node;        /* the node's name */
  const char* task;        /* the task's name */
  const char* model;       /* the model's name */
  const char* kind;        /* "classification", "detection", "segmentation" or "" (from the
                              model's output) */
  const char* task_dir;    /* the task's own writable directory */
  const char* role;        /* "pre" or "post" */
  int32_t input_rank;      /* one input item, without the batch axis: e.g. 3, {3, 360, 360} */
  int64_t input_shape[COEDGE_MAX_RANK];
  int32_t output_rank;     /* one output item, without the batch axis */
  int64_t output_shape[COEDGE_MAX_RANK];
  /* Added within ABI 2, at the end (a worker built before reads the fields above only):
     the task's thresholds from the node config (tasks[i].confidence, tasks[i].nms_iou), or
     -1 when the config sets none (use your own default); and its model's class names
     (models[i].labels, one per class id), or label_count 0 and labels NULL. The strings
     live until the worker exits. */
  double confidence;
  double nms_iou;
  int32_t label_count;
  const char* const* labels;
  /* Added within ABI 2, at the end: the task's `masks` setting from the node config,
     "png" (write each job's label map as a PNG) or "" (none). */
  const char* masks;
} coedge_task_info;

typedef struct coedge_frame {
  const uint8_t* pixels;   /* BGR, 8 bits per channel, rows `stride` bytes apart */
  int32_t width, height, channels, stride;
  uint64_t sequence;       /* the sensor's frame counter */
  int64_t capture_us;      /* CLOCK_MONOTONIC microseconds */
  uint64_t job;            /* this task's job for the frame */
  int64_t deadline_us;     /* absolute, CLOCK_MONOTONIC microseconds */
} coedge_frame;

typedef struct coedge_tensor {
  float* data;             /* `elements` floats to fill: one input item */
  uint64_t elements;
  int32_t rank;
  int64_t shape[COEDGE_MAX_RANK];
  double aux[6];           /* numbers handed to post-processing with the job (e.g. the
                              letterbox scale and padding); zero-initialised */
} coedge_tensor;

/* coedge_output.dtype: the element type of an output item. */
#define COEDGE_DTYPE_F32 0 /* float32, in coedge_output.data */
#define COEDGE_DTYPE_U8 1  /* one byte per element, in coedge_output.labels */

typedef struct coedge_output {
  const float* data;       /* this job's output item; NULL when dtype is COEDGE_DTYPE_U8 */
  uint64_t elements;
  int32_t rank;
  int64_t shape[COEDGE_MAX_RANK];
  double aux[6];           /* what pre-processing put in coedge_tensor.aux */
  uint64_t job;
  int32_t batch;           /* the size of the batch the job ran in */
  int64_t release_us, deadline_us;
  /* Added within ABI 2, at the end (a worker built before reads the fields above only,
     and gets only float32 outputs: classification and detection): the element type, and
     for COEDGE_DTYPE_U8 the `elements` bytes. A segmentation task's output (task kind
     "segmentation") is its class id per pixel, shape {H, W}, taken by the inference
     server so that it crosses shared memory as H*W bytes instead of C*H*W floats. */
  int32_t dtype;
  const uint8_t* labels;   /* NULL when dtype is COEDGE_DTYPE_F32 */
} coedge_output;

typedef struct coedge_worker_callbacks {
  int32_t abi_version;     /* COEDGE_WORKER_ABI_VERSION (1 and 2 are accepted too: same callbacks) */
  /* Called once at start. Returns your state (passed to every callback; may be any
     non-NULL pointer), or NULL after writing why into `error` (the worker then exits). */
  void* (*init)(const coedge_task_info* info, char* error, size_t error_size);
  int (*pre)(void* state, const coedge_frame* frame, coedge_tensor* tensor, char* error,
             size_t error_size);
  /* Write one JSON object (without a newline) into `result`, at most result_size bytes
     including the terminating NUL; an empty string records no result. The agent refuses
     (counts and logs, while the job still counts as done) a result that is not exactly
     one JSON object or holds a CR or LF. */
  int (*post)(void* state, const coedge_output* output, char* result, size_t result_size,
              char* error, size_t error_size);
  void (*fini)(void* state);  /* may be NULL */
} coedge_worker_callbacks;

/* Runs the worker; returns the process exit code. Call it from main(). */
int coedge_worker_main(int argc, char** argv, const coedge_worker_callbacks* callbacks);

/* CLOCK_MONOTONIC in microseconds: the clock of every timestamp above. */
int64_t coedge_now_us(void);

#ifdef __cplusplus
}
#endif

#endif /* COEDGE_WORKER_H_ */
