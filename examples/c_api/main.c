/* The C API from C: a model created from the JSON text form of a .mlmodel (circle_model.json: a
 * 2-16-2 network with zero weights, given fresh ones here), trained to tell points inside a circle
 * from points outside with a progress callback that stops early once the loss is low, then scored,
 * used to predict, its parameters read as one float array, saved and read back.
 *
 *   c_api [circle_model.json [OUTPUT.mlmodel]]     exits 1 when the accuracy stays below 0.9 */
#include <edgetrain/edgetrain_c.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(call)                                                             \
  do {                                                                          \
    if ((call) != EDGETRAIN_OK) {                                               \
      fprintf(stderr, "c_api: %s failed: %s\n", #call, edgetrain_last_error()); \
      exit(1);                                                                  \
    }                                                                           \
  } while (0)

enum { kPoints = 1000 };

/* Points in [-1, 1]^2, label 1 inside the circle of radius 0.6. */
static void make_points(float* points, int32_t* labels, unsigned seed) {
  srand(seed);
  for (int i = 0; i < kPoints; ++i) {
    float x = 2.0f * rand() / RAND_MAX - 1.0f, y = 2.0f * rand() / RAND_MAX - 1.0f;
    points[2 * i] = x;
    points[2 * i + 1] = y;
    labels[i] = x * x + y * y < 0.36f;
  }
}

/* Prints every 20th epoch and stops training once an epoch's loss is below 0.05. */
static int on_progress(const edgetrain_progress* progress, void* user_data) {
  (void)user_data;
  if (progress->event != EDGETRAIN_EVENT_EPOCH_END) return 0;
  if ((progress->epoch + 1) % 20 == 0) {
    printf("epoch %lld: loss %.4f, accuracy %.3f\n", (long long)progress->epoch + 1, progress->loss,
           progress->accuracy);
  }
  return progress->loss < 0.05;
}

/* The whole file as a NUL-terminated string (free it), or NULL. */
static char* read_file(const char* path) {
  FILE* file = fopen(path, "rb");
  if (!file) return NULL;
  char* text = NULL;
  if (fseek(file, 0, SEEK_END) == 0) {
    long size = ftell(file);
    text = size >= 0 ? malloc((size_t)size + 1) : NULL;
    if (text &&
        (fseek(file, 0, SEEK_SET) != 0 || fread(text, 1, (size_t)size, file) != (size_t)size)) {
      free(text);
      text = NULL;
    }
    if (text) text[size] = '\0';
  }
  fclose(file);
  return text;
}

int main(int argc, char** argv) {
  const char* json_path = argc > 1 ? argv[1] : "circle_model.json";
  const char* output = argc > 2 ? argv[2] : "c_api.mlmodel";
  printf("edgetrain %s (headers %s)\n", edgetrain_version_string(), EDGETRAIN_VERSION_STRING);

  char* json = read_file(json_path);
  if (!json) {
    fprintf(stderr, "c_api: cannot read %s\n", json_path);
    return 1;
  }
  edgetrain_model* model = NULL;
  CHECK(edgetrain_model_from_json(json, &model));
  free(json);
  CHECK(edgetrain_model_initialize(model, 42));

  static float points[kPoints * 2], test_points[kPoints * 2];
  static int32_t labels[kPoints], test_labels[kPoints];
  make_points(points, labels, 1);
  make_points(test_points, test_labels, 2);
  edgetrain_data *train = NULL, *test = NULL;
  CHECK(edgetrain_data_from_labels(points, labels, kPoints, 2, &train));
  CHECK(edgetrain_data_from_labels(test_points, test_labels, kPoints, 2, &test));

  edgetrain_train_options options;
  edgetrain_train_options_init(&options);
  options.seed = 1;
  options.progress = on_progress;
  edgetrain_train_result result;
  CHECK(edgetrain_train(model, train, &options, &result));
  printf("trained %lld epochs%s in %.2f s, loss %.4f\n", (long long)result.epochs_completed,
         result.cancelled ? " (stopped early by the callback)" : "", result.seconds,
         result.final_loss);

  edgetrain_evaluation score;
  CHECK(edgetrain_evaluate(model, test, 0, &score));
  printf("test: accuracy %.3f, loss %.4f on %llu points\n", score.accuracy, score.loss,
         (unsigned long long)score.samples);

  const float probe[4] = {0.0f, 0.0f, 0.9f, 0.9f};
  float probabilities[4];
  CHECK(edgetrain_predict(model, probe, 2, probabilities, 4));
  printf("P(inside) at (0, 0): %.3f, at (0.9, 0.9): %.3f\n", probabilities[1], probabilities[3]);

  size_t count = 0, tensors = 0;
  CHECK(edgetrain_model_parameter_count(model, &count));
  CHECK(edgetrain_model_tensor_count(model, &tensors));
  float* parameters = malloc(count * sizeof(float));
  CHECK(edgetrain_model_get_parameters(model, parameters, count));
  printf("%zu updatable parameters in %zu tensors:", count, tensors);
  for (size_t t = 0; t < tensors; ++t) {
    edgetrain_tensor_info info;
    CHECK(edgetrain_model_tensor(model, t, &info));
    printf(" %s[%zu]", info.name, info.size);
  }
  printf("\n");

  CHECK(edgetrain_model_save(model, output));
  edgetrain_model* reloaded = NULL;
  CHECK(edgetrain_model_load(output, &reloaded));
  float* reloaded_parameters = malloc(count * sizeof(float));
  CHECK(edgetrain_model_get_parameters(reloaded, reloaded_parameters, count));
  const int same = memcmp(parameters, reloaded_parameters, count * sizeof(float)) == 0;
  printf("saved %s; read back: %s parameters\n", output, same ? "the same" : "DIFFERENT");

  free(parameters);
  free(reloaded_parameters);
  edgetrain_model_free(reloaded);
  edgetrain_data_free(train);
  edgetrain_data_free(test);
  edgetrain_model_free(model);
  return score.accuracy >= 0.9 && same ? 0 : 1;
}
