// CSV tables: a header, feature columns and a class or real target, in memory and streamed from
// disk; errors name the file, the line and the column.
#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <filesystem>
#include <fstream>

#include "edgetrain/data.h"
#include "edgetrain/error.h"

namespace edgetrain {
namespace {

namespace fs = std::filesystem;

class CsvTable : public ::testing::Test {
 protected:
  void SetUp() override {
    folder = fs::temp_directory_path() /
             ("edgetrain-table-" + std::to_string(::getpid()) + "-" +
              ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(folder);
  }
  void TearDown() override { fs::remove_all(folder); }
  std::string write(const std::string& name, const std::string& text) const {
    const std::string path = (folder / name).string();
    std::ofstream(path, std::ios::binary) << text;
    return path;
  }
  std::string error_of(const std::string& path, const CsvTableOptions& options) const {
    try {
      read_csv_table(path, options);
    } catch (const Error& e) {
      const std::string memory = e.what();
      try {
        CsvTableStream stream(path, options);
      } catch (const Error& streamed) {
        EXPECT_EQ(memory, streamed.what()) << "streamed and in-memory errors differ";
      }
      return memory;
    }
    return "(no error)";
  }
  fs::path folder;
};

std::vector<float> features_of(const BatchProvider& data, size_t index) {
  std::vector<float> features(data.feature_size());
  data.copy_features(index, features.data());
  return features;
}

TEST_F(CsvTable, RealTargetAndTheOtherColumnsInOrder) {
  const std::string path = write(
      "houses.csv", "rooms,price,age , \"area, m2\"\r\n3,250.5, 10,80\r\n\r\n2,99,40,55.5\r\n");
  const Dataset table = read_csv_table(path, {.target = "price"});
  ASSERT_EQ(table.count(), 2u);
  EXPECT_EQ(table.shape(), (SampleShape{.channels = 3}));
  EXPECT_EQ(table.target_size(), 1u);
  EXPECT_EQ(features_of(table, 0), (std::vector<float>{3, 10, 80}));
  EXPECT_EQ(features_of(table, 1), (std::vector<float>{2, 40, 55.5f}));
  float price = 0;
  table.copy_target(0, &price, 1);
  EXPECT_EQ(price, 250.5f);
  EXPECT_EQ(table.label(0), -1);

  // Named features in the order asked for (several model inputs).
  const Dataset named =
      read_csv_table(path, {.target = "price", .features = {"area, m2", "rooms"}});
  EXPECT_EQ(features_of(named, 1), (std::vector<float>{55.5f, 2}));
}

TEST_F(CsvTable, ClassTargetsAreNamesSortedByValueWhenNumbers) {
  const std::string words = write("pets.csv", "w,h,kind\n1,2,dog\n3,4,cat\n5,6,dog\n");
  const Dataset pets = read_csv_table(words, {.target = "kind", .target_kind = TargetKind::kClass});
  EXPECT_EQ(pets.class_names(), (std::vector<std::string>{"cat", "dog"}));
  EXPECT_EQ(pets.labels(), (std::vector<int32_t>{1, 0, 1}));
  EXPECT_EQ(pets.target_size(), 0u);
  const std::string numbers = write("digits.csv", "x,digit\n1,10\n2,9\n3,10\n4,0\n");
  const Dataset digits =
      read_csv_table(numbers, {.target = "digit", .target_kind = TargetKind::kClass});
  EXPECT_EQ(digits.class_names(), (std::vector<std::string>{"0", "9", "10"}));
  EXPECT_EQ(digits.labels(), (std::vector<int32_t>{2, 1, 2, 0}));
}

TEST_F(CsvTable, StreamedFromDiskGivesTheSameSamples) {
  std::string text = "a,b,c,y\n";
  for (int i = 0; i < 500; ++i) {
    text += std::to_string(i) + "," + std::to_string(i * 0.25) + ",\"" + std::to_string(-i) +
            "\"," + std::to_string(i % 7) + (i % 3 ? "\n" : "\r\n");
    if (i % 50 == 0) text += "\n";  // blank lines are skipped
  }
  const std::string path = write("big.csv", text);
  for (TargetKind kind : {TargetKind::kReal, TargetKind::kClass}) {
    const CsvTableOptions options{.target = "y", .target_kind = kind};
    const Dataset memory = read_csv_table(path, options);
    const CsvTableStream stream(path, options);
    ASSERT_EQ(stream.count(), 500u);
    ASSERT_EQ(stream.feature_size(), 3u);
    EXPECT_EQ(stream.class_names(), memory.class_names());
    EXPECT_EQ(stream.target_size(), memory.target_size());
    for (size_t i = 0; i < 500; ++i) {
      ASSERT_EQ(features_of(stream, i), features_of(memory, i)) << i;
      EXPECT_EQ(stream.label(i), memory.label(i));
      if (kind == TargetKind::kReal) {
        float a = 0, b = 0;
        stream.copy_target(i, &a, 1);
        memory.copy_target(i, &b, 1);
        EXPECT_EQ(a, b);
      }
    }
    EXPECT_EQ(stream.sample_name(1), path + " line 4");  // after the header, row 0 and a blank line
    EXPECT_EQ(memory.sample_name(1), path + " line 4");
  }
}

TEST_F(CsvTable, ErrorsNameTheFileLineAndColumn) {
  const CsvTableOptions price{.target = "price"};
  EXPECT_EQ(
      error_of(write("bad_cell.csv", "a,price\n1,2\n1,x\n"), {.target = "a"}),
      (folder / "bad_cell.csv").string() + ": line 3, column 2 (\"price\"): \"x\" is not a number");
  EXPECT_EQ(error_of(write("short.csv", "a,b,price\n1,2,3\n1,2\n"), price),
            (folder / "short.csv").string() +
                ": line 3: has 2 fields but the header (line 1) names 3 columns");
  EXPECT_EQ(error_of(write("long.csv", "a,price\n1,2,3\n"), price),
            (folder / "long.csv").string() +
                ": line 2: has 3 fields but the header (line 1) names 2 columns");
  EXPECT_EQ(error_of(write("no_target.csv", "a,b\n1,2\n"), price),
            (folder / "no_target.csv").string() +
                ": line 1: no target column \"price\" (the columns: a, b)");
  EXPECT_EQ(error_of(write("empty_target.csv", "a,price\n1,2\n3, \n"), price),
            (folder / "empty_target.csv").string() +
                ": line 3, column 2 (\"price\"): the target is empty");
  EXPECT_EQ(error_of(write("word_target.csv", "a,price\n1,cheap\n"), price),
            (folder / "word_target.csv").string() +
                ": line 2, column 2 (\"price\"): the target \"cheap\" is not a finite number");
  EXPECT_EQ(error_of(write("huge.csv", "a,price\n1e39,1\n"), price),
            (folder / "huge.csv").string() +
                ": line 2, column 1 (\"a\"): \"1e39\" is not a finite number");
  EXPECT_EQ(error_of(write("quote.csv", "a,price\n\"1,2\n"), price),
            (folder / "quote.csv").string() + ": line 2: a quote is not closed");
  EXPECT_EQ(error_of(write("twice.csv", "a,a,price\n1,2,3\n"), price),
            (folder / "twice.csv").string() + ": line 1: two columns are named \"a\"");
  EXPECT_EQ(error_of(write("header_only.csv", "a,price\n\n"), price),
            (folder / "header_only.csv").string() + ": no data rows, only the header on line 1");
  EXPECT_NE(error_of(write("empty.csv", ""), price).find("empty file"), std::string::npos);
  EXPECT_NE(error_of(write("only_target.csv", "price\n1\n"), price)
                .find("no feature column besides the target \"price\""),
            std::string::npos);
  EXPECT_NE(error_of(write("feature.csv", "a,price\n1,2\n"), {.target = "price", .features = {"b"}})
                .find("no column \"b\" for a feature"),
            std::string::npos);
}

TEST_F(CsvTable, CompressedTablesAreReadIntoMemoryNotStreamed) {
  const std::string text = "a,y\n1,2\n3,4\n";
  const std::string path = (folder / "t.csv.gz").string();
  gzFile out = gzopen(path.c_str(), "wb");
  gzwrite(out, text.data(), unsigned(text.size()));
  gzclose(out);
  EXPECT_EQ(read_csv_table(path, {.target = "y"}).count(), 2u);
  try {
    CsvTableStream stream(path, {.target = "y"});
    ADD_FAILURE() << "a compressed table was streamed";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("a compressed table cannot be read from disk row by row"),
              std::string::npos);
  }
}

}  // namespace
}  // namespace edgetrain
