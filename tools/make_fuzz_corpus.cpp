// Writes the fuzz targets' seed corpus: make_fuzz_corpus fuzz/corpus
// (built with EDGETRAIN_FUZZ=ON: cmake --build build-fuzz --target make_fuzz_corpus).
// Small valid inputs in each target's input layout (see the comment at the top of each target),
// made with the library's own writers so they stay valid as the formats evolve: IDX pairs raw and
// gzip, CSV with and without a header, .mlmodel files from tiny ModelBuilder models (updatable and
// not, a classifier, half-precision and quantised weights), and PNG images of every colour type
// libpng writes. Deterministic: the same sources write the same bytes.
#include <png.h>
#include <zlib.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "coreml/model_spec.h"
#include "edgetrain/coreml.h"
#include "edgetrain/error.h"
#include "edgetrain/model.h"

namespace {

using namespace edgetrain;
namespace fs = std::filesystem;

void write(const fs::path& path, const std::string& bytes) {
  fs::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), std::streamsize(bytes.size()));
  if (!out) throw Error(path.string() + ": cannot write");
  std::printf("%6zu  %s\n", bytes.size(), path.c_str());
}

std::string gzip(const std::string& bytes) {
  z_stream stream{};
  deflateInit2(&stream, 9, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&stream, uLong(bytes.size())) + 64, '\0');
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data()));
  stream.avail_in = uInt(bytes.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = uInt(out.size());
  if (deflate(&stream, Z_FINISH) != Z_STREAM_END) throw Error("deflate failed");
  out.resize(stream.total_out);
  deflateEnd(&stream);
  return out;
}

std::string big_endian(uint32_t value) {
  return {char(value >> 24), char(value >> 16), char(value >> 8), char(value)};
}

// ---- fuzz_idx: [num_classes - 1][label file length, 2 bytes big-endian][label file][image file]
std::string idx_images(uint32_t count, uint32_t rows, uint32_t columns) {
  std::string bytes = big_endian(2051) + big_endian(count) + big_endian(rows) + big_endian(columns);
  for (uint32_t i = 0; i < count * rows * columns; ++i) bytes += char(i * 37 % 256);
  return bytes;
}
std::string idx_labels(const std::vector<uint8_t>& labels) {
  std::string bytes = big_endian(2049) + big_endian(uint32_t(labels.size()));
  for (uint8_t label : labels) bytes += char(label);
  return bytes;
}
std::string idx_input(int num_classes, const std::string& labels, const std::string& images) {
  return std::string{char(num_classes - 1), char(labels.size() >> 8), char(labels.size())} +
         labels + images;
}

void idx_seeds(const fs::path& dir) {
  const std::string images = idx_images(3, 2, 2), labels = idx_labels({0, 9, 4});
  write(dir / "pair-raw", idx_input(10, labels, images));
  write(dir / "pair-gzip", idx_input(10, gzip(labels), gzip(images)));
  write(dir / "images-gzip-labels-raw", idx_input(10, labels, gzip(images)));
  write(dir / "two-classes-1x3", idx_input(2, idx_labels({1, 0}), idx_images(2, 1, 3)));
  write(dir / "mnist-size-one-image", idx_input(10, idx_labels({7}), idx_images(1, 28, 28)));
}

// ---- fuzz_csv: [height - 1 | (width - 1) << 3, or 0xc0 for 28x28][num_classes - 1][file]
std::string csv_input(int height, int width, int num_classes, const std::string& text) {
  const char shape =
      height == 28 && width == 28 ? char(0xc0) : char((height - 1) | (width - 1) << 3);
  return std::string{shape, char(num_classes - 1)} + text;
}

void csv_seeds(const fs::path& dir) {
  const std::string rows = "3,0,255,12,7\n1,1,2,3,4\n";
  write(dir / "2x2-no-header", csv_input(2, 2, 10, rows));
  write(dir / "2x2-header-crlf",
        csv_input(2, 2, 10, "label,p1,p2,p3,p4\r\n3,0,255,12,7\r\n\r\n9,4,3,2,1\r\n"));
  write(dir / "2x2-decimals-blanks", csv_input(2, 2, 4, " 0 , 0.5 ,255.0,1e2,\t3\n\n2,0,0,0,0"));
  write(dir / "2x2-gzip", csv_input(2, 2, 10, gzip(rows)));
  write(dir / "1x3-one-row", csv_input(1, 3, 2, "1,10,20,30\n"));
  std::string mnist = "label";
  for (int i = 0; i < 784; ++i) mnist += ",pixel" + std::to_string(i);
  mnist += "\n5";
  for (int i = 0; i < 784; ++i) mnist += "," + std::to_string(i * 7 % 256);
  write(dir / "28x28-header-gzip", csv_input(28, 28, 10, gzip(mnist + "\n")));
}

// ---- fuzz_mlmodel: a .mlmodel
Model small_cnn() {
  return ModelBuilder()
      .metadata({.specification_version = 4, .short_description = "fuzz seed", .license = "MIT"})
      .input("image", {1, 6, 6})
      .output("output", {3})
      .training_input("image", {1, 6, 6})
      .training_input("output_true", {1}, FeatureType::kInt32)
      .loss(
          CategoricalCrossEntropy{.name = "lossLayer", .input = "output", .target = "output_true"})
      .optimizer(Adam{})
      .epochs({2, std::array<int64_t, 2>{1, 10}})
      .shuffle(true)
      .layers({
          {"conv", "image", "c",
           Convolution{.output_channels = 2, .kernel_channels = 1, .kernel_size = {3, 3}},
           kUpdatable},
          {"relu", "c", "r", ReLU()},
          {"pool", "r", "p", Pooling{}},
          {"flatten", "p", "f", Flatten{.order = FlattenOrder::kChannelLast}},
          {"dense", "f", "d", InnerProduct{.input_channels = 8, .output_channels = 3}, kUpdatable},
          {"softmax", "d", "output", Softmax{}},
      })
      .build();
}

// SGD with momentum, mean squared error, allowed sets and a seed, on a flat input.
Model small_mlp() {
  return ModelBuilder()
      .metadata({.specification_version = 4, .author = "edgetrain"})
      .input("x", {4})
      .output("y", {2})
      .training_input("x", {4})
      .training_input("y_true", {2})
      .loss(MeanSquaredError{.name = "mse", .input = "y", .target = "y_true"})
      .optimizer(Sgd{.learning_rate = {0.05, std::array<double, 2>{1e-6, 0.5}},
                     .mini_batch_size = {8, std::nullopt, {4, 8, 16}},
                     .momentum = {0.9, std::array<double, 2>{0.0, 0.99}}})
      .epochs({3, std::array<int64_t, 2>{1, 50}})
      .shuffle(false)
      .seed({11, std::nullopt, {}})
      .layers({
          {"hidden", "x", "h", InnerProduct{.input_channels = 4, .output_channels = 3}, kUpdatable},
          {"sigmoid", "h", "s", Sigmoid()},
          {"out", "s", "y",
           InnerProduct{.input_channels = 3, .output_channels = 2, .has_bias = false}, kUpdatable},
      })
      .build();
}

// Not updatable: an RGB image through a scaler, grouped dilated convolution with same padding,
// average and global pooling, tanh and linear activations, a string-label classifier.
Model image_classifier() {
  Model model =
      ModelBuilder()
          .metadata({.specification_version = 1, .user_defined = {{"source", "fuzz seed"}}})
          .input("image", {3, 5, 4})
          .output("probabilities", {2})
          .layers({
              {"conv", "image", "c",
               Convolution{.output_channels = 3,
                           .kernel_channels = 1,
                           .groups = 3,
                           .kernel_size = {2, 2},
                           .dilation = {1, 2},
                           .padding = Padding::kSame}},
              {"tanh", "c", "t", Tanh()},
              {"avg", "t", "a",
               Pooling{.type = PoolingType::kAverage,
                       .kernel_size = {2, 2},
                       .stride = {1, 1},
                       .padding = Padding::kSame,
                       .average_excludes_padding = false}},
              {"scale", "a", "l", Linear(1.5f, -0.25f)},
              {"global", "l", "g", Pooling{.type = PoolingType::kMax, .global = true}},
              {"flatten", "g", "f", Flatten{}},
              {"dense", "f", "d", InnerProduct{.input_channels = 3, .output_channels = 2}},
              {"softmax", "d", "probabilities", Softmax{}},
          })
          .build();
  model.inputs[0].type = FeatureType::kImage;
  model.inputs[0].shape.clear();
  model.inputs[0].image = {ColorSpace::kRGB, 4, 5};
  model.preprocessing.push_back({.feature_name = "image",
                                 .channel_scale = 1.0f / 255,
                                 .red_bias = -0.5f,
                                 .green_bias = -0.25f,
                                 .blue_bias = 0.125f});
  return as_classifier(model, ClassLabels{.string_labels = {"yes", "no"}});
}

// Not updatable: the converter layers of issue #11 in one graph on a (4, 6, 6) input, so the fuzzer
// starts inside their readers and runs them: unary, clip, lrn, l2normalize, upsample, crop, slice,
// split, reduce, softmaxND, reduceMean, concat and sliceStatic.
Model converter_layers() {
  return ModelBuilder()
      .metadata({.specification_version = 4, .short_description = "converter layers"})
      .input("x", {4, 6, 6})
      .output("y", {4, 1, 4})
      .layers({
          {"abs", "x", "u", UnaryFunction{.operation = UnaryOperation::kAbs, .shift = 0.5f}},
          {"clip", "u", "c", Clip{0.0f, 2.0f}},
          {"lrn", "c", "l", LRN{.local_size = 3}},
          {"l2", "l", "n", L2Normalize{}},
          {"up", "n", "up",
           Upsample{.mode = UpsampleMode::kBilinear,
                    .linear_mode = LinearUpsampleMode::kAlignCornersFalse}},
          {"crop", "up", "cr", Crop{.amounts = {1, 1, 2, 2}}},
          {"slice", "cr", "s",
           Slice{.start_index = 0, .end_index = 4, .axis = SliceAxis::kChannel}},
          {"split", "s", {"a", "b"}, Split{2}},
          {"max", "a", "ra", Reduce{ReduceOperation::kMax, ReduceAxes::kH}},
          {"softmax", "b", "sb", SoftmaxND{-1}},
          {"mean", "sb", "rb", ReduceMean{.axes = {-2}, .keep_dims = true}},
          {"join", {"ra", "rb"}, "j", Concat{}},
          {"every_other", "j", "y",
           SliceStatic{.begin_ids = {0, 0, 0, 0, 0},
                       .end_ids = {1, 1, 4, 1, 8},
                       .strides = {1, 1, 1, 1, 2},
                       .begin_masks = {true, true, true, true, false},
                       .end_masks = {true, true, true, true, false}}},
      })
      .build();
}

// Constants (no input; the fuzzer reads and writes them but runs no prediction on a model holding
// one) and ND reductions.
Model constant_layers() {
  Model model =
      ModelBuilder()
          .metadata({.specification_version = 4})
          .input("x", {2, 1, 3})
          .output("y", {2, 1, 1})
          .output("z", {1})
          .layers({
              {"k", BlobNames(std::vector<std::string>{}), "k", LoadConstantND{{1, 1, 2, 1, 3}}},
              {"sum", {"x", "k"}, "s", Add{}},
              {"rows", "s", "y", ReduceLogSumExp{.axes = {-1}, .keep_dims = true}},
              {"c", BlobNames(std::vector<std::string>{}), "c", LoadConstant{{1, 1, 2}}},
              {"all", "c", "z", ReduceProd{.reduce_all = true}},
          })
          .build();
  for (size_t i = 0; i < model.parameters.size(); ++i) model.parameters[i] = 0.25f * float(i + 1);
  return model;
}

// The weights of layer `index` stored another way than float32 values, as converters write them.
enum class Storage { kHalf, kLinear4Bit, kLookupTable2Bit };
std::string with_storage(const Model& model, size_t index, Storage storage) {
  coreml::spec::Model message = coreml::model_to_spec(model);
  coreml::spec::NeuralNetworkLayer& layer =
      *message.mutable_neuralnetwork()->mutable_layers(int(index));
  coreml::spec::WeightParams& weights =
      *(layer.has_convolution() ? layer.mutable_convolution()->mutable_weights()
                                : layer.mutable_innerproduct()->mutable_weights());
  const size_t count = size_t(weights.floatvalue_size());
  weights.clear_floatvalue();
  if (storage == Storage::kHalf) {
    std::string half;
    for (size_t i = 0; i < count; ++i) {
      const uint16_t value = uint16_t(0x3000 + i * 0x111);  // small positive and negative halves
      half += char(value & 0xff);
      half += char(value >> 8);
    }
    weights.set_float16value(half);
    return coreml::serialize_spec(message);
  }
  const int bits = storage == Storage::kLinear4Bit ? 4 : 2;
  std::string codes((count * size_t(bits) + 7) / 8, '\0');
  for (size_t i = 0; i < codes.size(); ++i) codes[i] = char(0x1b * (i + 1));
  weights.set_rawvalue(codes);
  coreml::spec::QuantizationParams& q = *weights.mutable_quantization();
  q.set_numberofbits(uint64_t(bits));
  if (storage == Storage::kLinear4Bit) {
    q.mutable_linearquantization()->add_scale(0.05f);
    q.mutable_linearquantization()->add_bias(-0.4f);
  } else {
    for (float value : {-0.5f, -0.1f, 0.1f, 0.5f})
      q.mutable_lookuptablequantization()->add_floatvalue(value);
  }
  return coreml::serialize_spec(message);
}

void mlmodel_seeds(const fs::path& dir) {
  const Model cnn = small_cnn();
  write(dir / "updatable-cnn-adam.mlmodel", serialize_mlmodel(cnn));
  write(dir / "updatable-mlp-sgd-mse.mlmodel", serialize_mlmodel(small_mlp()));
  write(dir / "image-classifier-string-labels.mlmodel", serialize_mlmodel(image_classifier()));
  Model classifier = as_classifier(cnn, ClassLabels{.int_labels = {3, 5, 7}});
  write(dir / "updatable-cnn-int-labels.mlmodel", serialize_mlmodel(classifier));
  Model plain = cnn;
  plain.update.reset();
  plain.training_inputs.clear();
  for (Layer& layer : plain.layers) layer.updatable = false;
  plain.metadata.specification_version = 1;
  write(dir / "cnn-half-conv.mlmodel", with_storage(plain, 0, Storage::kHalf));
  write(dir / "cnn-4bit-dense.mlmodel", with_storage(plain, 4, Storage::kLinear4Bit));
  write(dir / "cnn-2bit-lut-conv.mlmodel", with_storage(plain, 0, Storage::kLookupTable2Bit));
  write(dir / "converter-layers.mlmodel", serialize_mlmodel(converter_layers()));
  write(dir / "constant-layers.mlmodel", serialize_mlmodel(constant_layers()));
}

// ---- fuzz_png: [model input kind: 0 gray multiArray, 1 gray, 2 RGB, 3 BGR image, 4 flat; + 5:
// --digit for kinds 0 and 1][PNG]
std::string png(uint32_t width, uint32_t height, uint32_t format) {
  png_image image{};
  image.version = PNG_IMAGE_VERSION;
  image.width = width;
  image.height = height;
  image.format = format;
  const bool colormap = format & PNG_FORMAT_FLAG_COLORMAP;
  std::vector<uint8_t> pixels(PNG_IMAGE_SIZE(image));
  for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = uint8_t(i * 53 + 7);
  std::vector<uint8_t> palette;
  if (colormap) {
    image.colormap_entries = 4;
    for (uint8_t& index : pixels) index %= 4;
    palette = {0, 0, 0, 255, 255, 255, 10, 200, 30, 90, 90, 250};  // 4 RGB entries
  }
  png_alloc_size_t size = 0;
  if (!png_image_write_to_memory(&image, nullptr, &size, 0, pixels.data(), 0,
                                 colormap ? palette.data() : nullptr)) {
    throw Error(std::string("libpng: ") + image.message);
  }
  std::string bytes(size, '\0');
  if (!png_image_write_to_memory(&image, bytes.data(), &size, 0, pixels.data(), 0,
                                 colormap ? palette.data() : nullptr)) {
    throw Error(std::string("libpng: ") + image.message);
  }
  bytes.resize(size);
  return bytes;
}

void png_seeds(const fs::path& dir) {
  write(dir / "gray-4x3-multiarray", char(0) + png(4, 3, PNG_FORMAT_GRAY));
  write(dir / "gray-4x3-image", char(1) + png(4, 3, PNG_FORMAT_GRAY));
  write(dir / "rgb-3x2", char(2) + png(3, 2, PNG_FORMAT_RGB));
  write(dir / "rgba-3x2-bgr-input", char(3) + png(3, 2, PNG_FORMAT_RGBA));
  write(dir / "gray-alpha-5x1-flat", char(4) + png(5, 1, PNG_FORMAT_GA));
  write(dir / "gray16-2x2", char(1) + png(2, 2, PNG_FORMAT_LINEAR_Y));
  write(dir / "palette-3x3-rgb", char(2) + png(3, 3, PNG_FORMAT_RGB_COLORMAP));
  // Byte 0 = 5 (kind 0, odd / 5): `predict --digit` makes the 40x30 image MNIST-like.
  write(dir / "gray-40x30-digit", char(5) + png(40, 30, PNG_FORMAT_GRAY));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_fuzz_corpus OUTPUT_DIR   (normally fuzz/corpus)\n");
    return 2;
  }
  try {
    const fs::path root = argv[1];
    idx_seeds(root / "fuzz_idx");
    csv_seeds(root / "fuzz_csv");
    mlmodel_seeds(root / "fuzz_mlmodel");
    png_seeds(root / "fuzz_png");
  } catch (const Error& e) {
    std::fprintf(stderr, "make_fuzz_corpus: %s\n", e.what());
    return 1;
  }
  return 0;
}
