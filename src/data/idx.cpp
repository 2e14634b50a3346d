// MNIST IDX files (raw or gzip): header validation, size checks before any allocation, label range
// checks, and the folder lookup that accepts both spellings of the MNIST file names.
//
// IDX layout: bytes 0-1 zero, byte 2 the element type (0x08 = unsigned byte), byte 3 the number of
// dimensions, then one big-endian uint32 size per dimension, then the elements row-major.
#include <algorithm>
#include <array>
#include <cassert>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "data/dataset_storage.h"
#include "data/input_file.h"
#include "data/packed_pixels.h"
#include "edgetrain/data.h"
#include "edgetrain/error.h"

namespace edgetrain {

namespace {

using data::InputFile;

constexpr uint8_t kUnsignedByte = 0x08;
constexpr uint32_t kImagesMagic = 2051;  // 0x00000803: unsigned bytes, 3 dimensions
constexpr uint32_t kLabelsMagic = 2049;  // 0x00000801: unsigned bytes, 1 dimension

struct IdxHeader {
  std::vector<uint32_t> dims;  // (count) for labels, (count, rows, columns) for images
  uint64_t header_bytes = 0;
  uint64_t data_bytes = 0;  // product of dims: one byte per element
  std::string declared;     // what the header declares, for messages: "60000 images of 28x28"
};

uint32_t read_big_endian(const uint8_t* bytes) {
  return uint32_t(bytes[0]) << 24 | uint32_t(bytes[1]) << 16 | uint32_t(bytes[2]) << 8 | bytes[3];
}

std::string hex32(uint32_t value) {
  static const char digits[] = "0123456789abcdef";
  std::string text = "0x";
  for (int shift = 28; shift >= 0; shift -= 4) text += digits[(value >> shift) & 0xf];
  return text;
}

// What is wrong with a magic number that is not the expected one, as a hint for the user.
std::string magic_hint(const uint8_t* magic, uint32_t value, int rank) {
  if (magic[0] != 0 || magic[1] != 0) return "this is not an IDX file";
  if (magic[2] != kUnsignedByte) {
    return "element type 0x" + hex32(magic[2]).substr(8) + " is not unsigned bytes (0x08)";
  }
  if (rank == 3 && value == kLabelsMagic) {
    return "this is an IDX label file; are the image and label files swapped?";
  }
  if (rank == 1 && value == kImagesMagic) {
    return "this is an IDX image file; are the image and label files swapped?";
  }
  return "it declares " + std::to_string(magic[3]) + " dimensions, expected " +
         std::to_string(rank);
}

// Reads and checks the header. `kind` is "image" or "label"; rank is 3 or 1.
IdxHeader read_header(InputFile& in, int rank, const std::string& kind) {
  const std::string& path = in.path();
  IdxHeader header;
  header.header_bytes = 4 + 4 * uint64_t(rank);
  std::array<uint8_t, 16> bytes{};
  const size_t got = in.read_full(bytes.data(), header.header_bytes);
  if (got == 0) throw Error(path + ": empty file; expected an IDX " + kind + " file");
  if (got < 4) {
    throw Error(path + ": truncated IDX header: the file holds " + std::to_string(got) +
                " bytes, the magic number alone needs 4");
  }
  const uint32_t magic = read_big_endian(bytes.data());
  const uint32_t expected_magic = rank == 3 ? kImagesMagic : kLabelsMagic;
  if (magic != expected_magic) {
    throw Error(path + ": byte 0: magic number " + std::to_string(magic) + " (" + hex32(magic) +
                "), expected " + std::to_string(expected_magic) + " (" + hex32(expected_magic) +
                ") for an IDX " + kind + " file; " + magic_hint(bytes.data(), magic, rank));
  }
  if (got < header.header_bytes) {
    throw Error(path + ": truncated IDX header: the file holds " + std::to_string(got) +
                " bytes, the header of an IDX " + kind + " file needs " +
                std::to_string(header.header_bytes));
  }

  static const char* const kImageFields[] = {"image count", "rows", "columns"};
  static const char* const kLabelFields[] = {"label count"};
  header.data_bytes = 1;
  for (int d = 0; d < rank; ++d) {
    const uint32_t size = read_big_endian(bytes.data() + 4 + 4 * d);
    const std::string field = rank == 3 ? kImageFields[d] : kLabelFields[d];
    if (size == 0) {
      throw Error(path + ": byte " + std::to_string(4 + 4 * d) + ": " + field + " is 0; an IDX " +
                  kind + " file needs at least one");
    }
    header.dims.push_back(size);
    // Each factor is < 2^32 and the running product stays <= 2 GiB, so this never overflows.
    header.data_bytes *= size;
    if (header.data_bytes > data::kMaxFileBytes - header.header_bytes) {
      throw Error(path + ": byte " + std::to_string(4 + 4 * d) + ": " + field + " " +
                  std::to_string(size) + " makes the declared data larger than the 2 GiB limit");
    }
  }
  header.declared = rank == 3
                        ? std::to_string(header.dims[0]) + " images of " +
                              std::to_string(header.dims[1]) + "x" + std::to_string(header.dims[2])
                        : std::to_string(header.dims[0]) + " labels";
  return header;
}

[[noreturn]] void throw_size_mismatch(const InputFile& in, const IdxHeader& header,
                                      uint64_t actual_data_bytes, bool at_least = false) {
  const std::string decompressed = in.gzip() ? " (decompressed)" : "";
  const uint64_t expected_total = header.header_bytes + header.data_bytes;
  const uint64_t actual_total = header.header_bytes + actual_data_bytes;
  const bool truncated = actual_data_bytes < header.data_bytes;
  throw Error(
      in.path() + ": " + (truncated ? "truncated" : "more data than declared") +
      ": the header declares " + header.declared + ", so " + std::to_string(expected_total) +
      " bytes" + decompressed + " (" + std::to_string(header.header_bytes) + "-byte header + " +
      std::to_string(header.data_bytes) + " data bytes), but the file holds " +
      (at_least ? "at least " : "") + std::to_string(actual_total) + " bytes" + decompressed);
}

// How much to reserve for the data after the header, so a buffer never grows by copying (which
// would double the peak memory): the declared size, but no more than the file can back (deflate
// expands at most ~1032:1), so a small file claiming a huge count cannot force a huge allocation.
// Reserved pages the data never fills cost address space, not memory.
size_t reserve_bytes(const InputFile& in, const IdxHeader& header) {
  return size_t(std::min(header.data_bytes, in.file_size() * (in.gzip() ? 1032 : 1)));
}

// Reads the data after the header, exactly header.data_bytes, no more, no fewer, handing it to
// consume(bytes, n) in pieces of at most 1 MB (an image may straddle two pieces). Raw files are
// checked against their size before reading; gzip files are read on to their end.
template <class Consume>
void read_data(InputFile& in, const IdxHeader& header, Consume consume) {
  if (!in.gzip() && in.file_size() != header.header_bytes + header.data_bytes) {
    const uint64_t present =
        in.file_size() > header.header_bytes ? in.file_size() - header.header_bytes : 0;
    throw_size_mismatch(in, header, present);
  }
  constexpr uint64_t kPiece = uint64_t(1) << 20;
  std::vector<uint8_t> piece(size_t(std::min(kPiece, header.data_bytes)));
  uint64_t done = 0;
  while (done < header.data_bytes) {
    const size_t wanted = size_t(std::min<uint64_t>(piece.size(), header.data_bytes - done));
    const size_t got = in.read_full(piece.data(), wanted);
    if (got < wanted) throw_size_mismatch(in, header, done + got);  // a raw file shrank meanwhile
    consume(piece.data(), got);
    done += got;
  }
  if (!in.gzip()) return;
  // Reading on to the end also makes zlib verify the gzip CRC and length trailer.
  uint8_t extra[1 << 12];
  uint64_t extra_bytes = 0;
  while (const size_t got = in.read(extra, sizeof extra)) {
    extra_bytes += got;
    if (extra_bytes > data::kMaxFileBytes) break;
  }
  if (extra_bytes > 0) {
    throw_size_mismatch(in, header, header.data_bytes + extra_bytes,
                        extra_bytes > data::kMaxFileBytes);
  }
}

std::vector<uint8_t> read_bytes(InputFile& in, const IdxHeader& header) {
  std::vector<uint8_t> bytes;
  bytes.reserve(reserve_bytes(in, header));
  read_data(in, header, [&](const uint8_t* piece, size_t n) {
    bytes.insert(bytes.end(), piece, piece + n);
  });
  return bytes;
}

// The images after `header`, in `storage` (labels left to the caller).
data::DatasetParts read_images(InputFile& in, const IdxHeader& header, PixelStorage storage) {
  data::DatasetParts parts;
  parts.source = in.path();
  // Both < 2 GiB, checked in read_header.
  parts.shape = {.channels = 1, .height = int(header.dims[1]), .width = int(header.dims[2])};
  if (storage == PixelStorage::kBytes) {
    parts.pixel_bytes = read_bytes(in, header);
    return parts;
  }
  // Packing never makes an image larger, so the raw size bounds the packed one.
  parts.packed_pixels.reserve(reserve_bytes(in, header));
  const uint64_t image_bytes = uint64_t(header.dims[1]) * header.dims[2];
  parts.packed_offsets.reserve(size_t(reserve_bytes(in, header) / image_bytes) + 1);
  parts.packed_offsets.push_back(0);
  data::PixelPacker packer(parts.packed_pixels, parts.packed_offsets, size_t(image_bytes));
  read_data(in, header, [&](const uint8_t* piece, size_t n) { packer.add(piece, n); });
  assert(packer.at_image_boundary() && parts.packed_offsets.size() == header.dims[0] + size_t(1));
  return parts;
}

// The accepted names of one MNIST file, in the order they are tried: the original dashed name and
// the dotted one some mirrors use, each raw (faster to read) before gzip.
std::vector<std::string> candidate_names(const std::string& split, const std::string& kind) {
  const std::string idx = kind == "images" ? "idx3-ubyte" : "idx1-ubyte";
  const std::string stem = split + "-" + kind;
  return {stem + "-" + idx, stem + "-" + idx + ".gz", stem + "." + idx, stem + "." + idx + ".gz"};
}

std::optional<std::string> find_file(const std::string& folder,
                                     const std::vector<std::string>& names) {
  for (const std::string& name : names) {
    const std::filesystem::path path = std::filesystem::path(folder) / name;
    std::error_code error;
    if (std::filesystem::is_regular_file(path, error)) return path.string();
  }
  return std::nullopt;
}

std::string join(const std::vector<std::string>& names) {
  std::string text;
  for (const std::string& name : names) text += (text.empty() ? "" : ", ") + name;
  return text;
}

std::string find_file_or_throw(const std::string& folder, const std::string& split,
                               const std::string& kind) {
  const std::vector<std::string> names = candidate_names(split, kind);
  if (auto path = find_file(folder, names)) return *path;
  std::error_code error;
  const std::string where = std::filesystem::is_directory(folder, error)
                                ? folder + ": no MNIST " + split + " " + kind + " file"
                                : folder + ": no such folder";
  throw Error(where + "; looked for " + join(names) + " in " + folder +
              ". `edgetrain fetch-data mnist --data-dir " + folder + "` downloads them.");
}

}  // namespace

Dataset read_idx(const std::string& images_path, const std::string& labels_path, int num_classes,
                 PixelStorage storage) {
  if (num_classes < 1 || num_classes > 256) {
    throw Error("read_idx: num_classes must be in 1..256 (IDX labels are bytes), got " +
                std::to_string(num_classes));
  }
  InputFile images(images_path);
  const IdxHeader images_header = read_header(images, 3, "image");
  InputFile labels(labels_path);
  const IdxHeader labels_header = read_header(labels, 1, "label");
  if (images_header.dims[0] != labels_header.dims[0]) {
    throw Error(images_path + " declares " + std::to_string(images_header.dims[0]) +
                " images but " + labels_path + " declares " +
                std::to_string(labels_header.dims[0]) +
                " labels; the counts must match (are these files from the same split?)");
  }

  // Both files are checked whole (sizes, gzip integrity) before the label values.
  data::DatasetParts parts = read_images(images, images_header, storage);
  const std::vector<uint8_t> label_bytes = read_bytes(labels, labels_header);
  for (size_t i = 0; i < label_bytes.size(); ++i) {
    if (label_bytes[i] >= num_classes) {
      throw Error(labels_path + ": label " + std::to_string(i) + " (byte offset " +
                  std::to_string(labels_header.header_bytes + i) +
                  (labels.gzip() ? " after decompression" : "") + ") is " +
                  std::to_string(label_bytes[i]) + ", expected 0.." +
                  std::to_string(num_classes - 1) +
                  " (num_classes = " + std::to_string(num_classes) + ")");
    }
  }
  parts.num_classes = num_classes;
  parts.labels.assign(label_bytes.begin(), label_bytes.end());
  return data::DatasetStorage::assemble(std::move(parts));
}

Dataset read_idx_images(const std::string& images_path, PixelStorage storage) {
  InputFile images(images_path);
  const IdxHeader header = read_header(images, 3, "image");
  // Unlabelled: every label is -1 (unknown).
  return data::DatasetStorage::assemble(read_images(images, header, storage));
}

Dataset read_idx_folder(const std::string& folder, const std::string& split, int num_classes,
                        PixelStorage storage) {
  if (split != "train" && split != "t10k") {
    throw Error("read_idx_folder: split must be \"train\" or \"t10k\", got \"" + split + "\"");
  }
  const std::string images = find_file_or_throw(folder, split, "images");
  const std::string labels = find_file_or_throw(folder, split, "labels");
  return read_idx(images, labels, num_classes, storage);
}

bool idx_folder_complete(const std::string& folder) {
  for (const char* split : {"train", "t10k"}) {
    for (const char* kind : {"images", "labels"}) {
      if (!find_file(folder, candidate_names(split, kind))) return false;
    }
  }
  return true;
}

}  // namespace edgetrain
