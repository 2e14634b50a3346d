/* The C API tested from C: models from JSON, bytes and files; data from arrays, IDX and CSV;
 * training with progress reports and cancellation; evaluation, prediction, the flat parameter
 * array; and that every misuse returns a status with a message instead of crashing. Fixtures:
 * tests/fixtures/tiny_*.json (a 4-8-3 softmax classifier with SGD, a 2-6-1 tanh regressor with Adam
 * and mean squared error). */
#define _POSIX_C_SOURCE 200809L

#include <edgetrain/edgetrain_c.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int checks = 0, failures = 0;

#define CHECK(condition)                                                                           \
  do {                                                                                             \
    ++checks;                                                                                      \
    if (!(condition)) {                                                                            \
      ++failures;                                                                                  \
      fprintf(stderr, "%s:%d: CHECK(%s) failed; last error: %s\n", __FILE__, __LINE__, #condition, \
              edgetrain_last_error());                                                             \
    }                                                                                              \
  } while (0)
#define CHECK_OK(call) CHECK((call) == EDGETRAIN_OK)

static char* read_text(const char* relative) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", EDGETRAIN_SOURCE_DIR, relative);
  FILE* file = fopen(path, "rb");
  if (!file) {
    fprintf(stderr, "cannot open %s\n", path);
    exit(1);
  }
  fseek(file, 0, SEEK_END);
  long size = ftell(file);
  fseek(file, 0, SEEK_SET);
  char* text = malloc((size_t)size + 1);
  if (!text || fread(text, 1, (size_t)size, file) != (size_t)size) exit(1);
  text[size] = '\0';
  fclose(file);
  return text;
}

static edgetrain_model* model_from_fixture(const char* name) {
  char relative[256];
  snprintf(relative, sizeof relative, "tests/fixtures/%s", name);
  char* json = read_text(relative);
  edgetrain_model* model = NULL;
  CHECK_OK(edgetrain_model_from_json(json, &model));
  free(json);
  if (!model) exit(1);
  return model;
}

/* A fixed pseudo-random sequence in [0, 1), so every run sees the same data. */
static unsigned long long rng_state = 12345;
static float uniform(void) {
  rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
  return (float)((rng_state >> 40) & 0xffffff) / 16777216.0f;
}

/* Three separable classes: class k has feature k near 1, the others near 0; feature 3 is noise. */
enum { kSamples = 96, kFeatures = 4, kClasses = 3 };
static float features[kSamples * kFeatures];
static int32_t labels[kSamples];
static void make_classes(void) {
  for (int i = 0; i < kSamples; ++i) {
    labels[i] = i % kClasses;
    for (int f = 0; f < kFeatures; ++f) {
      features[i * kFeatures + f] = (f == labels[i] ? 1.0f : 0.0f) + 0.2f * (uniform() - 0.5f);
    }
  }
}

static int string_contains(const char* text, const char* part) {
  return strstr(text, part) != NULL;
}

/* ---- Progress callbacks ---- */
typedef struct {
  int batch_events, epoch_events;
  int64_t last_epoch;
  double first_epoch_loss, last_epoch_loss, last_epoch_accuracy;
  int ordered; /* every event's epoch/batch follows the previous one */
  int64_t expect_batch;
  int cancel_at_batch; /* return 1 at this batch count (0: never) */
  int batches_per_epoch_ok;
} Progress;

static int on_progress(const edgetrain_progress* p, void* user_data) {
  Progress* progress = user_data;
  if (p->event == EDGETRAIN_EVENT_BATCH_END) {
    if (p->batch != progress->expect_batch) progress->ordered = 0;
    progress->expect_batch = p->batch + 1;
    if (p->batches_per_epoch != kSamples / 8) progress->batches_per_epoch_ok = 0;
    ++progress->batch_events;
    if (progress->cancel_at_batch && progress->batch_events == progress->cancel_at_batch) return 1;
  } else {
    if (p->epoch != progress->epoch_events) progress->ordered = 0;
    if (progress->epoch_events == 0) progress->first_epoch_loss = p->loss;
    progress->last_epoch_loss = p->loss;
    progress->last_epoch_accuracy = p->accuracy;
    progress->last_epoch = p->epoch;
    progress->expect_batch = 0;
    ++progress->epoch_events;
  }
  return 0;
}

/* Trains on one thread (epochs 0: the model's default; seed -1: the model's), reporting to
 * `progress`. */
static edgetrain_status train_watched(edgetrain_model* model, const edgetrain_data* data,
                                      int64_t epochs, int64_t seed, Progress* progress,
                                      edgetrain_train_result* result) {
  edgetrain_train_options options;
  edgetrain_train_options_init(&options);
  options.epochs = epochs;
  options.seed = seed;
  options.threads = 1;
  options.progress = on_progress;
  options.user_data = progress;
  return edgetrain_train(model, data, &options, result);
}

static void test_version_and_errors(void) {
  CHECK(strcmp(edgetrain_version_string(), EDGETRAIN_VERSION_STRING) == 0);
  CHECK(EDGETRAIN_VERSION ==
        EDGETRAIN_VERSION_MAJOR * 10000 + EDGETRAIN_VERSION_MINOR * 100 + EDGETRAIN_VERSION_PATCH);

  edgetrain_model* model = NULL;
  CHECK(edgetrain_model_load("/nonexistent/model.mlmodel", &model) == EDGETRAIN_ERROR);
  CHECK(model == NULL);
  CHECK(string_contains(edgetrain_last_error(), "/nonexistent/model.mlmodel"));
  CHECK(edgetrain_model_load(NULL, &model) == EDGETRAIN_INVALID_ARGUMENT);
  CHECK(string_contains(edgetrain_last_error(), "path"));
  CHECK(edgetrain_model_from_json("{ not json", &model) == EDGETRAIN_ERROR);
  CHECK(edgetrain_model_from_json("{}", &model) == EDGETRAIN_ERROR);
  CHECK(edgetrain_model_from_bytes("\x08\x04garbage", 9, &model) == EDGETRAIN_ERROR);
  CHECK(edgetrain_model_input_size(NULL, NULL) == EDGETRAIN_INVALID_ARGUMENT);
  CHECK(edgetrain_train(NULL, NULL, NULL, NULL) == EDGETRAIN_INVALID_ARGUMENT);
  CHECK(edgetrain_predict(NULL, NULL, 1, NULL, 0) == EDGETRAIN_INVALID_ARGUMENT);
  edgetrain_model_free(NULL);
  edgetrain_data_free(NULL);
  edgetrain_task_free(NULL);
  edgetrain_task_cancel(NULL);
  edgetrain_free(NULL);

  edgetrain_data* data = NULL;
  CHECK(edgetrain_data_from_labels(features, labels, 0, kFeatures, &data) ==
        EDGETRAIN_INVALID_ARGUMENT);
  CHECK(edgetrain_data_from_labels(features, labels, (size_t)-1, (size_t)-1, &data) ==
        EDGETRAIN_INVALID_ARGUMENT);
  CHECK(string_contains(edgetrain_last_error(), "overflows"));
  CHECK(data == NULL);
  CHECK(edgetrain_data_read_idx("/nonexistent", "train", &data) == EDGETRAIN_ERROR);
  CHECK(string_contains(edgetrain_last_error(), "/nonexistent"));
  CHECK(edgetrain_data_read_csv("/nonexistent.csv", 0, 28, 10, &data) ==
        EDGETRAIN_INVALID_ARGUMENT);
}

static void test_classifier(void) {
  edgetrain_model* model = model_from_fixture("tiny_classifier.json");
  size_t input_size = 0, output_size = 0, tensors = 0, parameters = 0;
  CHECK_OK(edgetrain_model_input_size(model, &input_size));
  CHECK_OK(edgetrain_model_output_size(model, &output_size));
  CHECK(input_size == kFeatures && output_size == kClasses);

  /* The flat parameter array: hidden (8, 4) + 8, dense (3, 8) + 3. */
  CHECK_OK(edgetrain_model_tensor_count(model, &tensors));
  CHECK(tensors == 4);
  CHECK_OK(edgetrain_model_parameter_count(model, &parameters));
  CHECK(parameters == 8 * 4 + 8 + 3 * 8 + 3);
  edgetrain_tensor_info info;
  CHECK_OK(edgetrain_model_tensor(model, 2, &info));
  CHECK(strcmp(info.name, "dense.weights") == 0 && info.rank == 2 && info.shape[0] == 3 &&
        info.shape[1] == 8 && info.size == 24 && info.offset == 40);
  CHECK_OK(edgetrain_model_tensor(model, 1, &info));
  CHECK(strcmp(info.name, "hidden.bias") == 0 && info.rank == 1 && info.shape[0] == 8);
  CHECK(edgetrain_model_tensor(model, 4, &info) == EDGETRAIN_INVALID_ARGUMENT);

  edgetrain_data* data = NULL;
  CHECK_OK(edgetrain_data_from_labels(features, labels, kSamples, kFeatures, &data));
  size_t count = 0, feature_size = 0;
  CHECK_OK(edgetrain_data_count(data, &count));
  CHECK_OK(edgetrain_data_feature_size(data, &feature_size));
  CHECK(count == kSamples && feature_size == kFeatures);

  edgetrain_evaluation before, after;
  CHECK_OK(edgetrain_evaluate(model, data, 1, &before));
  CHECK(before.samples == kSamples);

  /* 30 epochs of 12 mini-batches of 8, on one thread with a fixed seed. */
  Progress progress = {.ordered = 1, .batches_per_epoch_ok = 1};
  edgetrain_train_options options;
  edgetrain_train_options_init(&options);
  CHECK(options.epochs == 0 && options.shuffle == -1 && options.seed == -1 && !options.progress);
  edgetrain_train_result result;
  CHECK_OK(train_watched(model, data, 30, 7, &progress, &result));
  CHECK(result.epochs_completed == 30 && !result.cancelled);
  CHECK(result.samples_seen == 30 * kSamples);
  CHECK(progress.batch_events == 30 * 12 && progress.epoch_events == 30);
  CHECK(progress.ordered && progress.batches_per_epoch_ok && progress.last_epoch == 29);
  CHECK(progress.last_epoch_loss < progress.first_epoch_loss / 2);
  CHECK(result.final_loss == progress.last_epoch_loss);
  CHECK(progress.last_epoch_accuracy >= 0.95 && result.final_accuracy >= 0.95);

  CHECK_OK(edgetrain_evaluate(model, data, 0, &after));
  CHECK(after.loss < before.loss / 2);
  CHECK(after.accuracy >= 0.95);

  /* Predictions: probabilities that sum to 1, most probable class the label. */
  float outputs[kSamples * kClasses];
  CHECK_OK(edgetrain_predict(model, features, kSamples, outputs, kSamples * kClasses));
  int correct = 0;
  for (int i = 0; i < kSamples; ++i) {
    const float* p = outputs + i * kClasses;
    CHECK(fabsf(p[0] + p[1] + p[2] - 1.0f) < 1e-5f);
    int best = p[1] > p[0] ? 1 : 0;
    if (p[2] > p[best]) best = 2;
    correct += best == labels[i];
  }
  CHECK(correct >= kSamples * 95 / 100);
  CHECK(edgetrain_predict(model, features, kSamples, outputs, kSamples * kClasses - 1) ==
        EDGETRAIN_INVALID_ARGUMENT);
  CHECK(string_contains(edgetrain_last_error(), "room"));

  /* The same weights give the same outputs after saving, as bytes, as JSON and as a file. */
  void* bytes = NULL;
  size_t size = 0;
  CHECK_OK(edgetrain_model_to_bytes(model, &bytes, &size));
  edgetrain_model* from_bytes = NULL;
  CHECK_OK(edgetrain_model_from_bytes(bytes, size, &from_bytes));
  edgetrain_free(bytes);
  char* json = NULL;
  CHECK_OK(edgetrain_model_to_json(model, &json));
  edgetrain_model* from_json = NULL;
  CHECK_OK(edgetrain_model_from_json(json, &from_json));
  edgetrain_free(json);
  char path[] = "/tmp/edgetrain-capi-XXXXXX";
  int fd = mkstemp(path);
  CHECK(fd >= 0);
  close(fd);
  char model_path[64];
  snprintf(model_path, sizeof model_path, "%s.mlmodel", path);
  CHECK_OK(edgetrain_model_save(model, model_path));
  edgetrain_model* from_file = NULL;
  CHECK_OK(edgetrain_model_load(model_path, &from_file));
  unlink(model_path);
  unlink(path);
  edgetrain_model* copies[] = {from_bytes, from_json, from_file};
  for (int c = 0; c < 3; ++c) {
    float again[kSamples * kClasses];
    CHECK_OK(edgetrain_predict(copies[c], features, kSamples, again, kSamples * kClasses));
    CHECK(memcmp(again, outputs, sizeof again) == 0);
    edgetrain_model_free(copies[c]);
  }

  /* Parameters out and back in: all zero weights give uniform probabilities. */
  float* values = malloc(parameters * sizeof(float));
  float* zeros = calloc(parameters, sizeof(float));
  CHECK_OK(edgetrain_model_get_parameters(model, values, parameters));
  CHECK(edgetrain_model_get_parameters(model, values, parameters - 1) ==
        EDGETRAIN_INVALID_ARGUMENT);
  CHECK_OK(edgetrain_model_set_parameters(model, zeros, parameters));
  float uniform_outputs[kClasses];
  CHECK_OK(edgetrain_predict(model, features, 1, uniform_outputs, kClasses));
  CHECK(fabsf(uniform_outputs[0] - 1.0f / 3) < 1e-6f &&
        fabsf(uniform_outputs[2] - 1.0f / 3) < 1e-6f);
  /* A non-finite value is refused and changes nothing. */
  values[5] = NAN;
  CHECK(edgetrain_model_set_parameters(model, values, parameters) == EDGETRAIN_INVALID_ARGUMENT);
  CHECK(string_contains(edgetrain_last_error(), "hidden.weights[5]"));
  float* read_back = malloc(parameters * sizeof(float));
  CHECK_OK(edgetrain_model_get_parameters(model, read_back, parameters));
  CHECK(memcmp(read_back, zeros, parameters * sizeof(float)) == 0);
  values[5] = 0.25f;
  CHECK_OK(edgetrain_model_set_parameters(model, values, parameters));
  CHECK_OK(edgetrain_model_get_parameters(model, read_back, parameters));
  CHECK(memcmp(read_back, values, parameters * sizeof(float)) == 0);
  CHECK_OK(edgetrain_model_initialize(model, 1));
  CHECK_OK(edgetrain_model_get_parameters(model, read_back, parameters));
  CHECK(read_back[0] != values[0] && read_back[40 + 24] == 0.0f); /* dense.bias back to 0 */
  free(values);
  free(zeros);
  free(read_back);

  edgetrain_data_free(data);
  edgetrain_model_free(model);
}

static void test_cancel(void) {
  edgetrain_model* model = model_from_fixture("tiny_classifier.json");
  edgetrain_data* data = NULL;
  CHECK_OK(edgetrain_data_from_labels(features, labels, kSamples, kFeatures, &data));

  /* The callback stops the run after its 4th mini-batch: no report follows, no epoch ends. */
  Progress progress = {.ordered = 1, .batches_per_epoch_ok = 1, .cancel_at_batch = 4};
  edgetrain_train_result result;
  CHECK_OK(train_watched(model, data, 0, -1, &progress, &result));
  CHECK(result.cancelled && result.epochs_completed == 0);
  CHECK(result.samples_seen == 4 * 8);
  CHECK(progress.batch_events == 4 && progress.epoch_events == 0);
  CHECK(isnan(result.final_loss) && isnan(result.final_accuracy));

  /* Cancelled before it runs: no mini-batch at all. A task runs once. */
  edgetrain_task* task = NULL;
  CHECK_OK(edgetrain_task_create(model, data, NULL, &task));
  edgetrain_task_cancel(task);
  CHECK_OK(edgetrain_task_run(task, &result));
  CHECK(result.cancelled && result.samples_seen == 0);
  CHECK(edgetrain_task_run(task, &result) == EDGETRAIN_INVALID_ARGUMENT);
  edgetrain_task_free(task);

  /* Overrides the model does not allow are refused when the task is made. */
  edgetrain_train_options options;
  edgetrain_train_options_init(&options);
  options.batch_size = 1000;
  task = NULL;
  CHECK(edgetrain_task_create(model, data, &options, &task) == EDGETRAIN_ERROR);
  CHECK(task == NULL);
  CHECK(string_contains(edgetrain_last_error(), "1000"));
  edgetrain_train_options_init(&options);
  options.threads = -1;
  CHECK(edgetrain_task_create(model, data, &options, &task) == EDGETRAIN_INVALID_ARGUMENT);

  edgetrain_data_free(data);
  edgetrain_model_free(model);
}

/* Trains a fresh copy of the tiny classifier for 3 epochs, seed 7, one thread, multiplying in
 * `precision`; returns the status and fills `parameters` (room for 128 floats) and the result. */
static edgetrain_status train_tiny(const edgetrain_data* data, const char* precision,
                                   float* parameters, edgetrain_train_result* result) {
  edgetrain_model* model = model_from_fixture("tiny_classifier.json");
  edgetrain_train_options options;
  edgetrain_train_options_init(&options);
  options.epochs = 3;
  options.seed = 7;
  options.threads = 1;
  edgetrain_task* task = NULL;
  edgetrain_status status =
      edgetrain_task_create_with_precision(model, data, &options, precision, &task);
  if (status == EDGETRAIN_OK) status = edgetrain_task_run(task, result);
  size_t count = 0;
  CHECK_OK(edgetrain_model_parameter_count(model, &count));
  CHECK(count > 0 && count <= 128);
  if (count <= 128) CHECK_OK(edgetrain_model_get_parameters(model, parameters, count));
  edgetrain_task_free(task);
  edgetrain_model_free(model);
  return status;
}

/* A classifier with an inner product large enough for a prediction to be split between threads
 * (300 -> 256: 76,800 multiply-adds), pseudo-random weights, as Core ML JSON. */
static char* wide_classifier_json(void) {
  enum { kIn = 300, kHidden = 256, kOut = 3 };
  size_t room = 64 * 1024 + (size_t)(kIn * kHidden + kHidden * kOut) * 16, used = 0;
  char* json = malloc(room);
  if (!json) exit(1);
#define APPEND(...) used += (size_t)snprintf(json + used, room - used, __VA_ARGS__)
  APPEND(
      "{\"specificationVersion\": 4, \"description\": {"
      "\"input\": [{\"name\": \"features\", \"type\": {\"multiArrayType\": "
      "{\"shape\": [\"%d\"], \"dataType\": \"FLOAT32\"}}}], "
      "\"output\": [{\"name\": \"probabilities\", \"type\": {\"multiArrayType\": "
      "{\"shape\": [\"%d\"], \"dataType\": \"FLOAT32\"}}}]}, "
      "\"neuralNetwork\": {\"layers\": [",
      kIn, kOut);
  const int sizes[2][2] = {{kIn, kHidden}, {kHidden, kOut}};
  for (int layer = 0; layer < 2; ++layer) {
    APPEND(
        "%s{\"name\": \"dense%d\", \"input\": [\"%s\"], \"output\": [\"%s\"], "
        "\"innerProduct\": {\"inputChannels\": \"%d\", \"outputChannels\": \"%d\", "
        "\"hasBias\": true, \"weights\": {\"floatValue\": [",
        layer ? ", " : "", layer, layer ? "hidden" : "features", layer ? "logits" : "hidden",
        sizes[layer][0], sizes[layer][1]);
    for (int i = 0; i < sizes[layer][0] * sizes[layer][1]; ++i) {
      APPEND("%s%.6f", i ? ", " : "", (uniform() - 0.5f) * 0.2f);
    }
    APPEND("]}, \"bias\": {\"floatValue\": [");
    for (int i = 0; i < sizes[layer][1]; ++i) APPEND("%s%.6f", i ? ", " : "", uniform() - 0.5f);
    APPEND("]}}}");
  }
  APPEND(
      ", {\"name\": \"softmax\", \"input\": [\"logits\"], \"output\": "
      "[\"probabilities\"], \"softmax\": {}}]}}");
#undef APPEND
  if (used >= room) exit(1);
  return json;
}

/* Two threads sharing each prediction give the one-thread outputs bit for bit. */
static void test_predict_threads(void) {
  enum { kWideIn = 300, kCount = 4 };
  char* json = wide_classifier_json();
  edgetrain_model* model = NULL;
  CHECK_OK(edgetrain_model_from_json(json, &model));
  free(json);
  if (!model) return;
  static float samples[kCount * kWideIn];
  for (int i = 0; i < kCount * kWideIn; ++i) samples[i] = uniform();
  float alone[kCount * 3], shared[kCount * 3];
  CHECK_OK(edgetrain_predict(model, samples, kCount, alone, kCount * 3));
  CHECK_OK(edgetrain_model_set_predict_threads(model, 2));
  CHECK_OK(edgetrain_predict(model, samples, kCount, shared, kCount * 3));
  CHECK(memcmp(shared, alone, sizeof alone) == 0);
  CHECK_OK(edgetrain_model_set_predict_threads(model, 0)); /* every core */
  CHECK_OK(edgetrain_predict(model, samples, kCount, shared, kCount * 3));
  CHECK(memcmp(shared, alone, sizeof alone) == 0);
  CHECK(edgetrain_model_set_predict_threads(model, -1) == EDGETRAIN_INVALID_ARGUMENT);
  CHECK(string_contains(edgetrain_last_error(), "threads is -1"));
  CHECK(edgetrain_model_set_predict_threads(NULL, 2) == EDGETRAIN_INVALID_ARGUMENT);
  edgetrain_model_free(model);
}

static void test_precision(void) {
  edgetrain_data* data = NULL;
  CHECK_OK(edgetrain_data_from_labels(features, labels, kSamples, kFeatures, &data));
  edgetrain_model* model = model_from_fixture("tiny_classifier.json");

  /* An unknown name or NULL is refused by name, and no task is made. */
  edgetrain_task* task = NULL;
  CHECK(edgetrain_task_create_with_precision(model, data, NULL, "fp16", &task) ==
        EDGETRAIN_INVALID_ARGUMENT);
  CHECK(task == NULL && string_contains(edgetrain_last_error(), "fp16"));
  CHECK(edgetrain_task_create_with_precision(model, data, NULL, NULL, &task) ==
        EDGETRAIN_INVALID_ARGUMENT);
  CHECK(task == NULL && string_contains(edgetrain_last_error(), "precision"));
  CHECK(edgetrain_precision_supported("float32") == 1);
  CHECK(edgetrain_precision_supported("fp16") == 0 && edgetrain_precision_supported(NULL) == 0);
  edgetrain_model_free(model);

  /* "float32" by name is edgetrain_task_create(): the same seed gives the same bits. */
  float named[128] = {0}, plain[128] = {0}, bf16[128] = {0};
  edgetrain_train_result result;
  CHECK_OK(train_tiny(data, "float32", named, &result));
  model = model_from_fixture("tiny_classifier.json");
  edgetrain_train_options options;
  edgetrain_train_options_init(&options);
  options.epochs = 3;
  options.seed = 7;
  options.threads = 1;
  CHECK_OK(edgetrain_train(model, data, &options, &result));
  size_t count = 0;
  CHECK_OK(edgetrain_model_parameter_count(model, &count));
  CHECK_OK(edgetrain_model_get_parameters(model, plain, count));
  CHECK(memcmp(named, plain, sizeof plain) == 0);
  edgetrain_model_free(model);

  /* bf16 trains where the CPU has it (other sums, so other weights, learning as well) and is
   * refused with the reason elsewhere. */
  const edgetrain_status status = train_tiny(data, "bf16", bf16, &result);
  if (edgetrain_precision_supported("bf16")) {
    CHECK(status == EDGETRAIN_OK);
    CHECK(memcmp(bf16, plain, sizeof plain) != 0);
    CHECK(result.epochs_completed == 3 && result.final_accuracy > 0.9);
  } else {
    CHECK(status == EDGETRAIN_ERROR);
    CHECK(string_contains(edgetrain_last_error(), "AVX512-BF16"));
  }
  edgetrain_data_free(data);
}

static void test_bad_data(void) {
  edgetrain_model* model = model_from_fixture("tiny_classifier.json");
  edgetrain_data* data = NULL;
  /* A label with no class, features of the wrong size: errors naming them, no crash. */
  int32_t bad_labels[kSamples];
  memcpy(bad_labels, labels, sizeof bad_labels);
  bad_labels[17] = 5;
  CHECK_OK(edgetrain_data_from_labels(features, bad_labels, kSamples, kFeatures, &data));
  CHECK(edgetrain_train(model, data, NULL, NULL) == EDGETRAIN_ERROR);
  CHECK(string_contains(edgetrain_last_error(), "label 5"));
  edgetrain_evaluation evaluation;
  CHECK(edgetrain_evaluate(model, data, 0, &evaluation) == EDGETRAIN_ERROR);
  edgetrain_data_free(data);
  CHECK_OK(edgetrain_data_from_labels(features, labels, kSamples / 2, kFeatures * 2, &data));
  CHECK(edgetrain_train(model, data, NULL, NULL) == EDGETRAIN_ERROR);
  CHECK(string_contains(edgetrain_last_error(), "8 values per sample"));
  edgetrain_data_free(data);
  edgetrain_model_free(model);
}

static void test_regressor(void) {
  enum { kPoints = 128 };
  float x[kPoints * 2], y[kPoints], y_wide[kPoints * 2];
  for (int i = 0; i < kPoints; ++i) {
    x[2 * i] = 2 * uniform() - 1;
    x[2 * i + 1] = 2 * uniform() - 1;
    y[i] = 0.8f * x[2 * i] - 0.5f * x[2 * i + 1] + 0.1f;
    y_wide[2 * i] = y_wide[2 * i + 1] = y[i];
  }
  edgetrain_model* model = model_from_fixture("tiny_regressor.json");
  edgetrain_data* data = NULL;
  CHECK_OK(edgetrain_data_from_targets(x, y, kPoints, 2, 1, &data));
  edgetrain_evaluation before, after;
  CHECK_OK(edgetrain_evaluate(model, data, 1, &before));
  CHECK(isnan(before.accuracy)); /* no accuracy for mean squared error */

  Progress progress = {.ordered = 1, .batches_per_epoch_ok = 1};
  edgetrain_train_result result;
  CHECK_OK(train_watched(model, data, 100, 3, &progress, &result));
  CHECK(result.epochs_completed == 100);
  CHECK(isnan(progress.last_epoch_accuracy) && isnan(result.final_accuracy));
  CHECK_OK(edgetrain_evaluate(model, data, 1, &after));
  CHECK(after.loss < before.loss / 10);
  CHECK(after.loss < 0.01);
  float prediction;
  CHECK_OK(edgetrain_predict(model, x, 1, &prediction, 1));
  CHECK(fabsf(prediction - y[0]) < 0.2f);
  edgetrain_data_free(data);

  /* Targets of the wrong size are an error, not a read past the end. */
  CHECK_OK(edgetrain_data_from_targets(x, y_wide, kPoints, 2, 2, &data));
  CHECK(edgetrain_train(model, data, NULL, NULL) == EDGETRAIN_ERROR);
  CHECK(string_contains(edgetrain_last_error(), "2 values per sample"));
  edgetrain_data_free(data);
  edgetrain_model_free(model);
}

static void test_files(void) {
  /* MNIST's test split, from the shared data beside the checkout. */
  edgetrain_data* data = NULL;
  CHECK_OK(edgetrain_data_read_idx(EDGETRAIN_SOURCE_DIR "/../shared/data/mnist", "t10k", &data));
  size_t count = 0, size = 0;
  CHECK_OK(edgetrain_data_count(data, &count));
  CHECK_OK(edgetrain_data_feature_size(data, &size));
  CHECK(count == 10000 && size == 784);
  edgetrain_data_free(data);

  /* A CSV of 2x2 images. */
  char path[] = "/tmp/edgetrain-capi-csv-XXXXXX";
  int fd = mkstemp(path);
  CHECK(fd >= 0);
  const char csv[] = "label,p0,p1,p2,p3\n1,0,255,0,0\n0,255,0,0,0\n1,0,128,0,0\n";
  CHECK(write(fd, csv, sizeof csv - 1) == (ssize_t)(sizeof csv - 1));
  close(fd);
  CHECK_OK(edgetrain_data_read_csv(path, 2, 2, 2, &data));
  CHECK_OK(edgetrain_data_count(data, &count));
  CHECK_OK(edgetrain_data_feature_size(data, &size));
  CHECK(count == 3 && size == 4);
  edgetrain_data_free(data);
  CHECK(edgetrain_data_read_csv(path, 3, 3, 2, &data) == EDGETRAIN_ERROR);
  CHECK(string_contains(edgetrain_last_error(), path));
  unlink(path);
}

int main(void) {
  make_classes();
  test_version_and_errors();
  test_classifier();
  test_cancel();
  test_precision();
  test_predict_threads();
  test_bad_data();
  test_regressor();
  test_files();
  printf("%d checks, %d failed\n", checks, failures);
  return failures == 0 ? 0 : 1;
}
