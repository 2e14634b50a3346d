// CSV tables (read_csv_table, CsvTableStream): a header naming the columns, then one sample a row.
// Both read the file in pieces through one line reader and parse rows with one parser, so a table
// gives the same samples (and the same errors) in memory and streamed.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <functional>
#include <map>

#include "data/csv_fields.h"
#include "data/dataset_storage.h"
#include "data/input_file.h"
#include "edgetrain/data.h"
#include "edgetrain/error.h"

namespace edgetrain {
namespace {

using data::parse_number;
using data::quote;
using data::trim;

// A row longer than this is not a table anyone wrote by hand or by a tool.
constexpr size_t kMaxLineBytes = size_t(64) << 20;

// Calls line(text, number, offset) for every line (without its end; CR of CRLF removed), reading
// the file in pieces. `offset` is the line's first byte in the (decompressed) data.
void for_each_line(data::InputFile& in,
                   const std::function<void(std::string_view, size_t, uint64_t)>& line) {
  std::string pending;  // an unfinished line carried over from the previous piece
  uint64_t pending_offset = 0;
  std::vector<uint8_t> piece(size_t(1) << 20);
  size_t number = 0;
  auto emit = [&](std::string_view text, uint64_t offset) {
    if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
    line(text, ++number, offset);
  };
  for (;;) {
    const uint64_t piece_offset = in.position();
    const size_t got = in.read(piece.data(), piece.size());
    if (got == 0) break;
    const char* text = reinterpret_cast<const char*>(piece.data());
    size_t start = 0;
    while (start < got) {
      const void* newline = std::memchr(text + start, '\n', got - start);
      if (!newline) break;
      const size_t end = size_t(static_cast<const char*>(newline) - text);
      if (pending.empty()) {
        emit(std::string_view(text + start, end - start), piece_offset + start);
      } else {
        pending.append(text + start, end - start);
        emit(pending, pending_offset);
        pending.clear();
      }
      start = end + 1;
    }
    if (start < got) {
      if (pending.empty()) pending_offset = piece_offset + start;
      pending.append(text + start, got - start);
      if (pending.size() > kMaxLineBytes) {
        throw Error(in.path() + ": line " + std::to_string(number + 1) + " is longer than " +
                    std::to_string(kMaxLineBytes >> 20) + " MiB");
      }
    }
  }
  if (!pending.empty()) emit(pending, pending_offset);
}

// Splits a line at commas outside double quotes; a quoted field loses its quotes (a doubled quote
// inside stays doubled: class_name undoes it). False when a quote is not closed.
bool split_fields(std::string_view line, std::vector<std::string_view>& fields) {
  fields.clear();
  size_t start = 0;
  bool quoted = false;
  for (size_t i = 0; i <= line.size(); ++i) {
    if (i < line.size() && line[i] == '"') quoted = !quoted;
    if (i == line.size() || (line[i] == ',' && !quoted)) {
      std::string_view field = trim(line.substr(start, i - start));
      if (field.size() >= 2 && field.front() == '"' && field.back() == '"') {
        field = field.substr(1, field.size() - 2);
      }
      fields.push_back(field);
      start = i + 1;
    }
  }
  return !quoted;
}

std::string unquote(std::string_view field) {
  std::string text(field);
  for (size_t at = text.find("\"\""); at != std::string::npos; at = text.find("\"\"", at + 1)) {
    text.erase(at, 1);
  }
  return text;
}

// The columns of a table and where its features and target come from.
class Table {
 public:
  Table(std::string path, CsvTableOptions options)
      : path_(std::move(path)), options_(std::move(options)) {}

  // Reads the header line; throws naming what is missing.
  void header(std::string_view line, size_t number) {
    header_line_ = number;
    std::vector<std::string_view> fields;
    if (!split_fields(line, fields)) fail(number, "the header has a quote that is not closed");
    for (size_t i = 0; i < fields.size(); ++i) {
      std::string name = unquote(fields[i]);
      if (name.empty())
        fail(number, "column " + std::to_string(i + 1) + " of the header has no name");
      if (std::find(names_.begin(), names_.end(), name) != names_.end()) {
        fail(number, "two columns are named " + quote(name));
      }
      names_.push_back(std::move(name));
    }
    if (options_.target_kind != TargetKind::kNone) {
      target_ = column(options_.target);
      if (target_ < 0) {
        fail(number, "no target column " + quote(options_.target) +
                         " (the columns: " + column_list() + ")");
      }
    }
    if (options_.features.empty()) {
      for (size_t i = 0; i < names_.size(); ++i) {
        if (int(i) != target_) features_.push_back(i);
      }
    }
    for (const std::string& name : options_.features) {
      const int index = column(name);
      if (index < 0) {
        fail(number,
             "no column " + quote(name) + " for a feature (the columns: " + column_list() + ")");
      }
      if (index == target_) fail(number, "the column " + quote(name) + " is the target");
      features_.push_back(size_t(index));
    }
    if (features_.empty())
      fail(number, "no feature column besides the target " + quote(options_.target));
  }

  bool has_header() const { return header_line_ > 0; }
  size_t feature_count() const { return features_.size(); }
  size_t header_line() const { return header_line_; }
  const std::string& path() const { return path_; }

  // Parses a row: its features into `features`, its target into `target` (real) or `class_name`.
  void row(std::string_view line, size_t number, float* features, double* target,
           std::string* class_name) const {
    thread_local std::vector<std::string_view> fields;
    if (!split_fields(line, fields)) fail(number, "a quote is not closed");
    if (fields.size() != names_.size()) {
      fail(number, "has " + std::to_string(fields.size()) + " fields but the header (line " +
                       std::to_string(header_line_) + ") names " + std::to_string(names_.size()) +
                       " columns");
    }
    for (size_t f = 0; f < features_.size(); ++f) {
      const size_t c = features_[f];
      double value = 0;
      if (!parse_number(fields[c], value))
        fail_at(number, c, quote(fields[c]) + " is not a number");
      if (!std::isfinite(float(value))) {
        fail_at(number, c, quote(fields[c]) + " is not a finite number");
      }
      features[f] = float(value);
    }
    if (target_ < 0) return;
    const std::string_view field = fields[size_t(target_)];
    if (field.empty()) fail_at(number, size_t(target_), "the target is empty");
    if (options_.target_kind == TargetKind::kClass) {
      *class_name = unquote(field);
      return;
    }
    double value = 0;
    if (!parse_number(field, value) || !std::isfinite(float(value))) {
      fail_at(number, size_t(target_), "the target " + quote(field) + " is not a finite number");
    }
    *target = value;
  }

  [[noreturn]] void fail(size_t line, const std::string& what) const {
    throw Error(path_ + ": line " + std::to_string(line) + ": " + what);
  }
  [[noreturn]] void fail_at(size_t line, size_t column, const std::string& what) const {
    throw Error(path_ + ": line " + std::to_string(line) + ", column " +
                std::to_string(column + 1) + " (" + quote(names_[column]) + "): " + what);
  }

 private:
  int column(const std::string& name) const {
    const auto it = std::find(names_.begin(), names_.end(), name);
    return it == names_.end() ? -1 : int(it - names_.begin());
  }
  std::string column_list() const {
    std::string text;
    for (size_t i = 0; i < names_.size() && i < 20; ++i) text += (i ? ", " : "") + names_[i];
    return names_.size() > 20 ? text + ", ..." : text;
  }

  std::string path_;
  CsvTableOptions options_;
  std::vector<std::string> names_;
  std::vector<size_t> features_;  // column of each feature, in order
  int target_ = -1;
  size_t header_line_ = 0;
};

// The names of the classes a class column held, sorted (by value when every one is a number), and
// each row's label into them.
struct ClassColumn {
  std::map<std::string, int32_t> first_seen;  // name -> provisional label
  std::vector<int32_t> labels;

  void add(const std::string& name) {
    const auto [it, added] = first_seen.emplace(name, int32_t(first_seen.size()));
    labels.push_back(it->second);
  }
  // Sorts the names and relabels the rows.
  std::vector<std::string> finish() {
    std::vector<std::string> names;
    for (const auto& entry : first_seen) names.push_back(entry.first);
    double ignored = 0;
    const bool numbers = std::all_of(names.begin(), names.end(), [&](const std::string& name) {
      return parse_number(name, ignored);
    });
    if (numbers) {
      std::stable_sort(names.begin(), names.end(), [](const std::string& a, const std::string& b) {
        double x = 0, y = 0;
        parse_number(a, x);
        parse_number(b, y);
        return x < y;
      });
    }
    std::vector<int32_t> final_label(names.size());
    for (size_t k = 0; k < names.size(); ++k)
      final_label[size_t(first_seen[names[k]])] = int32_t(k);
    for (int32_t& label : labels) label = final_label[size_t(label)];
    return names;
  }
};

// Every data row of the file in order: row(text, line number, offset) after the header.
void for_each_row(data::InputFile& in, Table& table,
                  const std::function<void(std::string_view, size_t, uint64_t)>& row) {
  for_each_line(in, [&](std::string_view line, size_t number, uint64_t offset) {
    if (trim(line).empty()) return;
    if (!table.has_header()) return table.header(line, number);
    row(line, number, offset);
  });
  if (!table.has_header()) {
    throw Error(in.path() +
                ": empty file; expected a header row naming the columns, then one "
                "sample a row");
  }
}

}  // namespace

Dataset read_csv_table(const std::string& path, const CsvTableOptions& options) {
  data::InputFile in(path);
  Table table(path, options);
  data::DatasetParts parts;
  parts.source = path;
  ClassColumn classes;
  size_t rows = 0;
  for_each_row(in, table, [&](std::string_view line, size_t number, uint64_t) {
    const size_t features = table.feature_count();
    parts.features.resize(parts.features.size() + features);
    double target = 0;
    std::string class_name;
    table.row(line, number, parts.features.data() + rows * features, &target, &class_name);
    if (options.target_kind == TargetKind::kClass) classes.add(class_name);
    if (options.target_kind == TargetKind::kReal) parts.targets.push_back(float(target));
    if (number > UINT32_MAX) throw Error(path + ": more than 2^32 lines");
    parts.sample_lines.push_back(uint32_t(number));
    ++rows;
  });
  if (rows == 0) {
    throw Error(path + ": no data rows, only the header on line " +
                std::to_string(table.header_line()));
  }
  parts.shape = {.channels = int(table.feature_count())};
  if (options.target_kind == TargetKind::kReal) parts.target_size = 1;
  if (options.target_kind == TargetKind::kClass) {
    parts.class_names = classes.finish();
    parts.num_classes = int(parts.class_names.size());
    parts.labels = std::move(classes.labels);
  }
  return data::DatasetStorage::assemble(std::move(parts));
}

// ---- CsvTableStream ---------------------------------------------------------------------------

struct CsvTableStream::State {
  Table table;
  CsvTableOptions options;
  int fd = -1;
  // Per row: where it is in the file, how long, on which line; and its target.
  std::vector<uint64_t> offsets;
  std::vector<uint32_t> lengths;
  std::vector<uint32_t> lines;
  std::vector<float> targets;
  std::vector<int32_t> labels;
  std::vector<std::string> class_names;

  State(const std::string& path, const CsvTableOptions& table_options)
      : table(path, table_options), options(table_options) {}
  ~State() {
    if (fd >= 0) ::close(fd);
  }
};

CsvTableStream::CsvTableStream(const std::string& path, const CsvTableOptions& options)
    : state_(std::make_unique<State>(path, options)) {
  State& s = *state_;
  {
    data::InputFile in(path);
    if (in.gzip()) {
      throw Error(path +
                  ": a compressed table cannot be read from disk row by row; decompress "
                  "it, or read it into memory");
    }
    ClassColumn classes;
    std::vector<float> features;
    for_each_row(in, s.table, [&](std::string_view line, size_t number, uint64_t offset) {
      features.resize(s.table.feature_count());
      double target = 0;
      std::string class_name;
      s.table.row(line, number, features.data(), &target, &class_name);
      if (number > UINT32_MAX) throw Error(path + ": more than 2^32 lines");
      s.offsets.push_back(offset);
      s.lengths.push_back(uint32_t(line.size()));
      s.lines.push_back(uint32_t(number));
      if (options.target_kind == TargetKind::kClass) classes.add(class_name);
      if (options.target_kind == TargetKind::kReal) s.targets.push_back(float(target));
    });
    if (s.offsets.empty()) {
      throw Error(path + ": no data rows, only the header on line " +
                  std::to_string(s.table.header_line()));
    }
    if (options.target_kind == TargetKind::kClass) {
      s.class_names = classes.finish();
      s.labels = std::move(classes.labels);
    }
  }
  s.fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (s.fd < 0) throw Error(path + ": cannot open: " + std::strerror(errno));
}

CsvTableStream::~CsvTableStream() = default;

size_t CsvTableStream::count() const {
  return state_->offsets.size();
}
size_t CsvTableStream::feature_size() const {
  return state_->table.feature_count();
}

void CsvTableStream::copy_features(size_t index, float* dst) const {
  const State& s = *state_;
  std::string line(s.lengths[index], '\0');
  size_t done = 0;
  while (done < line.size()) {
    const ssize_t got =
        ::pread(s.fd, line.data() + done, line.size() - done, off_t(s.offsets[index] + done));
    if (got <= 0) {
      throw Error(s.table.path() + ": line " + std::to_string(s.lines[index]) +
                  ": cannot read it again (" +
                  (got < 0 ? std::strerror(errno) : "the file is shorter") +
                  "); the file changed while it was read");
    }
    done += size_t(got);
  }
  if (!line.empty() && line.back() == '\r') line.pop_back();
  double target = 0;
  std::string class_name;
  s.table.row(line, s.lines[index], dst, &target, &class_name);
}

int32_t CsvTableStream::label(size_t index) const {
  return state_->labels.empty() ? -1 : state_->labels[index];
}

size_t CsvTableStream::target_size() const {
  return state_->targets.empty() ? 0 : 1;
}

void CsvTableStream::copy_target(size_t index, float* dst, size_t size) const {
  if (state_->targets.empty() || size != 1) return BatchProvider::copy_target(index, dst, size);
  dst[0] = state_->targets[index];
}

std::vector<std::string> CsvTableStream::class_names() const {
  return state_->class_names;
}

std::string CsvTableStream::sample_name(size_t index) const {
  return state_->table.path() + " line " + std::to_string(state_->lines[index]);
}

}  // namespace edgetrain
