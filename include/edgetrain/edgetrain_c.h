/**
 * @file edgetrain_c.h
 * @brief The C API: load, create, train, evaluate and run Core ML models from C and from any
 * language with a C foreign-function interface (Python's ctypes, Swift, Kotlin through JNI).
 *
 * @code
 * #include <edgetrain/edgetrain_c.h>
 *
 * edgetrain_model* model = NULL;
 * if (edgetrain_model_load("model.mlmodel", &model) != EDGETRAIN_OK) {
 *   fprintf(stderr, "%s\n", edgetrain_last_error());
 *   return 1;
 * }
 * edgetrain_data* data = NULL;
 * edgetrain_data_from_labels(features, labels, count, feature_size, &data);  // copies both
 * edgetrain_train_options options;
 * edgetrain_train_options_init(&options);
 * options.epochs = 2;
 * edgetrain_train_result result;
 * edgetrain_train(model, data, &options, &result);
 * edgetrain_model_save(model, "trained.mlmodel");
 * edgetrain_data_free(data);
 * edgetrain_model_free(model);
 * @endcode
 *
 * Conventions:
 * - Every function that can fail returns an ::edgetrain_status; on failure
 *   edgetrain_last_error() says why (the file, layer, field or value at fault). No C++ exception
 *   ever crosses this interface, out-of-memory included.
 * - Objects are opaque handles made by a `..._create`, `..._load`, `..._from_...` or `..._read_...`
 *   function and released by the matching `..._free` (which accepts NULL). Outputs are written only
 *   on success.
 * - Arrays are passed as pointers with their sizes counted in elements; arrays given to a function
 *   are copied or only read during the call, never kept.
 * - A handle is used by one thread at a time; only edgetrain_task_cancel() may be called from any
 *   thread while its task runs.
 */
#ifndef EDGETRAIN_EDGETRAIN_C_H_
#define EDGETRAIN_EDGETRAIN_C_H_

#include <stddef.h>
#include <stdint.h>

#include "edgetrain/version.h"

/** Marks the functions libedgetrain_c.so exports. */
#if defined(__GNUC__)
#define EDGETRAIN_C_API __attribute__((visibility("default")))
#else
#define EDGETRAIN_C_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Errors and version --------------------------------------------------------------------- */

/** What a call returns. */
typedef enum edgetrain_status {
  EDGETRAIN_OK = 0,               /**< Success. */
  EDGETRAIN_INVALID_ARGUMENT = 1, /**< A NULL handle or pointer, or a size that does not fit. */
  EDGETRAIN_ERROR = 2,            /**< Bad input: a file, model, data set or setting is wrong. */
  EDGETRAIN_OUT_OF_MEMORY = 3,    /**< An allocation failed; the objects involved are unchanged. */
  EDGETRAIN_INTERNAL_ERROR = 4    /**< Any other failure inside the library: a bug to report. */
} edgetrain_status;

/**
 * The message of the last call on this thread that failed ("" before any failure). The pointer is
 * valid until the next failing call on this thread.
 */
EDGETRAIN_C_API const char* edgetrain_last_error(void);

/** The library's version, "major.minor.patch" (compare with EDGETRAIN_VERSION_STRING). */
EDGETRAIN_C_API const char* edgetrain_version_string(void);

/** Releases memory the library returned: edgetrain_model_to_json() text, edgetrain_model_to_bytes()
 *  bytes. NULL is ignored. */
EDGETRAIN_C_API void edgetrain_free(void* memory);

/* ---- Models --------------------------------------------------------------------------------- */

/** A Core ML neural network (plain, classifier or regressor) with its weights and, when updatable,
 *  its loss, optimizer and training defaults. */
typedef struct edgetrain_model edgetrain_model;

/**
 * Reads a model file: a `.json` path holds the JSON text form of a `.mlmodel`, any other path the
 * `.mlmodel` itself. Every byte is checked.
 * @param path  the file
 * @param model receives the new model; free it with edgetrain_model_free()
 */
EDGETRAIN_C_API edgetrain_status edgetrain_model_load(const char* path, edgetrain_model** model);

/**
 * Creates a model from the JSON text form of a `.mlmodel` (protobuf's JSON mapping of
 * CoreML.Specification.Model, as `edgetrain convert model.mlmodel model.json` writes it).
 * @param json  NUL-terminated UTF-8 text
 * @param model receives the new model
 */
EDGETRAIN_C_API edgetrain_status edgetrain_model_from_json(const char* json,
                                                           edgetrain_model** model);

/**
 * Creates a model from the bytes of a `.mlmodel` file held in memory.
 * @param bytes the file's bytes
 * @param size  how many
 * @param model receives the new model
 */
EDGETRAIN_C_API edgetrain_status edgetrain_model_from_bytes(const void* bytes, size_t size,
                                                            edgetrain_model** model);

/**
 * Writes the model atomically (the previous file stays intact until the new one is complete): a
 * path ending in `.json` gets the JSON text form, any other path a `.mlmodel`. An updatable model
 * that Core ML would reject is refused.
 */
EDGETRAIN_C_API edgetrain_status edgetrain_model_save(const edgetrain_model* model,
                                                      const char* path);

/**
 * The model as JSON text (see edgetrain_model_from_json()).
 * @param model the model
 * @param json  receives NUL-terminated text; release it with edgetrain_free()
 */
EDGETRAIN_C_API edgetrain_status edgetrain_model_to_json(const edgetrain_model* model, char** json);

/**
 * The model as the bytes of a `.mlmodel` file.
 * @param model the model
 * @param bytes receives the bytes; release them with edgetrain_free()
 * @param size  receives how many
 */
EDGETRAIN_C_API edgetrain_status edgetrain_model_to_bytes(const edgetrain_model* model,
                                                          void** bytes, size_t* size);

/** Releases a model. NULL is ignored. */
EDGETRAIN_C_API void edgetrain_model_free(edgetrain_model* model);

/** Values per sample the model's input takes: the product of its (C, H, W) shape. */
EDGETRAIN_C_API edgetrain_status edgetrain_model_input_size(const edgetrain_model* model,
                                                            size_t* size);

/** Values per sample the model's first output gives (class probabilities for a classifier). */
EDGETRAIN_C_API edgetrain_status edgetrain_model_output_size(const edgetrain_model* model,
                                                             size_t* size);

/**
 * Replaces every weight with a seeded Glorot-uniform draw and every bias with zero: a fresh start
 * for a model created from JSON without trained weights.
 */
EDGETRAIN_C_API edgetrain_status edgetrain_model_initialize(edgetrain_model* model, uint64_t seed);

/* ---- Updatable parameters ---------------------------------------------------------------------
 */
/*
 * The parameters training changes, as one flat float array: the weight then the bias of every
 * updatable layer, in layer order, each laid out as Core ML stores it. This is what a federated
 * client sends and receives.
 */

/** Largest rank of a parameter tensor. */
#define EDGETRAIN_MAX_RANK 4

/** One weight or bias tensor within the flat parameter array. */
typedef struct edgetrain_tensor_info {
  const char* name; /**< "<layer>.weights", "<layer>.bias", ... (Core ML's names); valid while the model is. */
  size_t rank;      /**< Used entries of shape. */
  int64_t shape[EDGETRAIN_MAX_RANK]; /**< Convolution weight (out, in/groups, kh, kw), inner-product
                                          weight (out, in), bias (out). */
  size_t size;                       /**< Product of the shape. */
  size_t offset;                     /**< Where it starts in the flat array. */
} edgetrain_tensor_info;

/** How many tensors the flat array holds. */
EDGETRAIN_C_API edgetrain_status edgetrain_model_tensor_count(const edgetrain_model* model,
                                                              size_t* count);

/**
 * Describes tensor `index` (0 to count - 1) of the flat array.
 * @param model the model
 * @param index which tensor
 * @param info  receives its name, shape, size and offset
 */
EDGETRAIN_C_API edgetrain_status edgetrain_model_tensor(const edgetrain_model* model, size_t index,
                                                        edgetrain_tensor_info* info);

/** How many floats the flat array holds (0 for a model with no updatable layer). */
EDGETRAIN_C_API edgetrain_status edgetrain_model_parameter_count(const edgetrain_model* model,
                                                                 size_t* count);

/**
 * Copies the updatable parameters out.
 * @param model  the model
 * @param values receives `count` floats
 * @param count  must equal edgetrain_model_parameter_count()
 */
EDGETRAIN_C_API edgetrain_status edgetrain_model_get_parameters(const edgetrain_model* model,
                                                                float* values, size_t count);

/**
 * Replaces the updatable parameters. Refused, leaving the model unchanged, when `count` differs
 * from edgetrain_model_parameter_count() or a value is not finite.
 * @param model  the model
 * @param values `count` floats laid out as edgetrain_model_get_parameters() gives them
 * @param count  must equal edgetrain_model_parameter_count()
 */
EDGETRAIN_C_API edgetrain_status edgetrain_model_set_parameters(edgetrain_model* model,
                                                                const float* values, size_t count);

/* ---- Data -------------------------------------------------------------------------------------
 */

/** Samples to train or evaluate on: float features laid out (C, H, W) per sample, with class labels
 *  or real-valued targets. */
typedef struct edgetrain_data edgetrain_data;

/**
 * Samples with class labels, copied from arrays (for cross-entropy models).
 * @param features     `count * feature_size` floats, sample after sample
 * @param labels       `count` class indices (or a classifier's integer class labels)
 * @param count        samples, at least 1
 * @param feature_size values per sample, at least 1
 * @param data         receives the new data set; free it with edgetrain_data_free()
 */
EDGETRAIN_C_API edgetrain_status edgetrain_data_from_labels(const float* features,
                                                            const int32_t* labels, size_t count,
                                                            size_t feature_size,
                                                            edgetrain_data** data);

/**
 * Samples with real-valued targets, copied from arrays (for mean-squared-error models; the target
 * size must equal the size of the blob the loss reads).
 * @param features     `count * feature_size` floats
 * @param targets      `count * target_size` floats
 * @param count        samples, at least 1
 * @param feature_size values per sample, at least 1
 * @param target_size  target values per sample, at least 1
 * @param data         receives the new data set
 */
EDGETRAIN_C_API edgetrain_status edgetrain_data_from_targets(const float* features,
                                                             const float* targets, size_t count,
                                                             size_t feature_size,
                                                             size_t target_size,
                                                             edgetrain_data** data);

/**
 * Reads a folder holding MNIST-layout IDX files (raw or .gz): `split` "train" reads
 * train-images-idx3-ubyte and train-labels-idx1-ubyte, "t10k" the test pair. Pixels become [0, 1].
 */
EDGETRAIN_C_API edgetrain_status edgetrain_data_read_idx(const char* folder, const char* split,
                                                         edgetrain_data** data);

/**
 * Reads a CSV file of images: one per line, the label then height * width pixel values 0-255; an
 * optional header line. Pixels become [0, 1].
 * @param path        the file (raw or .gz)
 * @param height      image height, at least 1
 * @param width       image width, at least 1
 * @param num_classes labels must be below this
 * @param data        receives the new data set
 */
EDGETRAIN_C_API edgetrain_status edgetrain_data_read_csv(const char* path, int height, int width,
                                                         int num_classes, edgetrain_data** data);

/** Samples in the data set. */
EDGETRAIN_C_API edgetrain_status edgetrain_data_count(const edgetrain_data* data, size_t* count);

/** Feature values per sample. */
EDGETRAIN_C_API edgetrain_status edgetrain_data_feature_size(const edgetrain_data* data,
                                                             size_t* size);

/** Releases a data set. NULL is ignored. */
EDGETRAIN_C_API void edgetrain_data_free(edgetrain_data* data);

/* ---- Training ------------------------------------------------------------------------------- */

/** Which moment a progress report is about. */
typedef enum edgetrain_event {
  EDGETRAIN_EVENT_BATCH_END = 0, /**< A mini-batch was trained on and the weights updated. */
  EDGETRAIN_EVENT_EPOCH_END = 1  /**< Every sample was seen once more. */
} edgetrain_event;

/** What the progress callback is told. */
typedef struct edgetrain_progress {
  edgetrain_event event; /**< Which moment. */
  int64_t epoch;         /**< From 0. */
  int64_t batch;         /**< The mini-batch within the epoch, from 0 (epoch events: the last). */
  int64_t batches_per_epoch; /**< Mini-batches in an epoch. */
  double loss;               /**< Batch events: the mini-batch's mean loss; epoch events: the
                                  epoch's. */
  double accuracy;        /**< Epoch events of cross-entropy models: the fraction of samples whose
                               most probable class was the label; otherwise NaN. */
  uint64_t samples_done;  /**< Samples trained on since the task began. */
  double elapsed_seconds; /**< Since the task began. */
} edgetrain_progress;

/**
 * Called on the thread that runs the task after every mini-batch and every epoch. Return 0 to go
 * on, anything else to stop after this mini-batch (the model keeps the updates made so far).
 */
typedef int (*edgetrain_progress_fn)(const edgetrain_progress* progress, void* user_data);

/** Run-time settings of a training run; a zero (or negative) field keeps the model's own default.
 *  Each override is checked against what the model allows. Fill with
 *  edgetrain_train_options_init() first. */
typedef struct edgetrain_train_options {
  int64_t epochs;                 /**< Epochs to run; 0: the model's default. */
  int64_t batch_size;             /**< Mini-batch size; 0: the model's default. */
  double learning_rate;           /**< 0: the model's default. */
  int shuffle;                    /**< -1: the model's default, 0: in order, 1: shuffled. */
  int64_t seed;                   /**< Shuffling order; -1: the model's seed, else 0. */
  int threads;                    /**< 0: every core. The same seed and thread count give
                                       bit-identical weights. */
  edgetrain_progress_fn progress; /**< NULL: no reports. */
  void* user_data;                /**< Passed to progress. */
} edgetrain_train_options;

/** Fills every field with "the model's default", no callback. */
EDGETRAIN_C_API void edgetrain_train_options_init(edgetrain_train_options* options);

/** How a training run ended. */
typedef struct edgetrain_train_result {
  int64_t epochs_completed; /**< Whole epochs run. */
  int cancelled;            /**< Nonzero when cancelled before the last epoch ended. */
  double final_loss;        /**< Mean loss of the last whole epoch; NaN when none completed. */
  double final_accuracy;    /**< Its accuracy for cross-entropy models; otherwise NaN. */
  double seconds;           /**< Wall time of the run. */
  uint64_t samples_seen;    /**< Samples trained on. */
} edgetrain_train_result;

/** A training run of a model's updatable layers on a data set (Core ML's MLUpdateTask). */
typedef struct edgetrain_task edgetrain_task;

/**
 * Prepares a training run, checking the options against the model. The model is updated in place
 * by edgetrain_task_run(); it and the data must stay alive, and not be used elsewhere, until the
 * task is freed.
 * @param model   an updatable model
 * @param data    its training data (labels for cross-entropy, targets for mean squared error)
 * @param options NULL for the model's defaults
 * @param task    receives the task; free it with edgetrain_task_free()
 */
EDGETRAIN_C_API edgetrain_status edgetrain_task_create(edgetrain_model* model,
                                                       const edgetrain_data* data,
                                                       const edgetrain_train_options* options,
                                                       edgetrain_task** task);

/**
 * edgetrain_task_create() with a choice of how the layers multiply, by name:
 * - "float32": the default, as edgetrain_task_create();
 * - "bf16": mixed precision (`edgetrain train --precision bf16`): the inner-product layers' matrix
 *   products and the deep convolutions' forward round their operands to bfloat16 and sum in fp32;
 *   weights, gradients and optimizer state stay fp32. It needs a CPU with AVX512-BF16
 *   (edgetrain_precision_supported()); elsewhere this returns EDGETRAIN_ERROR saying so.
 * An unknown name (or NULL) gives EDGETRAIN_INVALID_ARGUMENT. A separate function rather than a
 * field of edgetrain_train_options, whose layout programs built against 0.1 rely on.
 */
EDGETRAIN_C_API edgetrain_status edgetrain_task_create_with_precision(
    edgetrain_model* model, const edgetrain_data* data, const edgetrain_train_options* options,
    const char* precision, edgetrain_task** task);

/** 1 where this build and CPU can train with `precision` ("float32": always; "bf16": with
 *  AVX512-BF16), 0 otherwise and for an unknown name or NULL. */
EDGETRAIN_C_API int edgetrain_precision_supported(const char* precision);

/**
 * Runs the task to its end or until cancelled. A cancelled run returns EDGETRAIN_OK with
 * `result->cancelled` set. A task runs once.
 * @param task   the task
 * @param result receives how it ended (may be NULL)
 */
EDGETRAIN_C_API edgetrain_status edgetrain_task_run(edgetrain_task* task,
                                                    edgetrain_train_result* result);

/** Asks a running task to stop after its current mini-batch; callable from any thread, also before
 *  the run starts (it then stops before the first mini-batch). NULL is ignored. */
EDGETRAIN_C_API void edgetrain_task_cancel(edgetrain_task* task);

/** Releases a task that is not running. NULL is ignored. */
EDGETRAIN_C_API void edgetrain_task_free(edgetrain_task* task);

/** edgetrain_task_create(), edgetrain_task_run() and edgetrain_task_free() in one call. */
EDGETRAIN_C_API edgetrain_status edgetrain_train(edgetrain_model* model, const edgetrain_data* data,
                                                 const edgetrain_train_options* options,
                                                 edgetrain_train_result* result);

/* ---- Evaluation and prediction ----------------------------------------------------------------
 */

/** A model's score on a data set. */
typedef struct edgetrain_evaluation {
  uint64_t samples; /**< Samples scored. */
  double loss;      /**< Mean of the model's loss (cross-entropy on the first output if the model is
                         not updatable). */
  double accuracy;  /**< Cross-entropy models: fraction of samples whose most probable class is the
                         label; NaN for mean squared error. */
} edgetrain_evaluation;

/**
 * Scores the model on a data set.
 * @param model   the model
 * @param data    labelled (or, for mean-squared-error models, targeted) samples
 * @param threads 0: every core
 * @param result  receives the score
 */
EDGETRAIN_C_API edgetrain_status edgetrain_evaluate(const edgetrain_model* model,
                                                    const edgetrain_data* data, int threads,
                                                    edgetrain_evaluation* result);

/**
 * Runs the model on `count` samples.
 * @param model         the model
 * @param features      `count * input_size` floats (see edgetrain_model_input_size()), each sample
 *                      laid out (C, H, W): values in [0, 1] for image models, as in training
 * @param count         samples
 * @param outputs       receives `count * output_size` floats (edgetrain_model_output_size()), e.g.
 *                      the class probabilities
 * @param outputs_count room in outputs, at least `count * output_size`
 */
EDGETRAIN_C_API edgetrain_status edgetrain_predict(edgetrain_model* model, const float* features,
                                                   size_t count, float* outputs,
                                                   size_t outputs_count);

/**
 * How many threads share each sample of the model's edgetrain_predict() calls from now on.
 * 1 (the default): the caller's alone. More: helper threads compute parts of the large layers'
 * outputs (convolutions and inner products) beside the caller, with the same outputs bit for bit;
 * they spin between a prediction's steps and sleep after 200 µs without one. 0: every core; more
 * than the cores: capped to them.
 * @param model   the model
 * @param threads at least 0; negative is EDGETRAIN_INVALID_ARGUMENT
 */
EDGETRAIN_C_API edgetrain_status edgetrain_model_set_predict_threads(edgetrain_model* model,
                                                                    int threads);

#ifdef __cplusplus
}  // extern "C"
#endif

#endif /* EDGETRAIN_EDGETRAIN_C_H_ */
