// Number parsing and quoting shared by the CSV readers (csv.cpp, csv_table.cpp).
#include "data/csv_fields.h"

#include <charconv>
#include <limits>

namespace edgetrain::data {

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

// Parses a whole field (surrounding blanks allowed) as a number. Integers take the fast path.
bool parse_number(std::string_view field, double& value) {
  field = trim(field);
  if (field.empty()) return false;
  const char* first = field.data();
  const char* last = first + field.size();
  int integer = 0;
  const auto [int_end, int_error] = std::from_chars(first, last, integer);
  if (int_error == std::errc() && int_end == last) {
    value = integer;
    return true;
  }
  const auto [end, error] = std::from_chars(first, last, value);
  if (end != last) return false;
  if (error == std::errc::result_out_of_range) {  // e.g. 1e999: a number, just far out of range
    value = field.front() == '-' ? -std::numeric_limits<double>::infinity()
                                 : std::numeric_limits<double>::infinity();
    return true;
  }
  return error == std::errc();
}

std::string quote(std::string_view field) {
  std::string text(1, '"');
  text.append(field);
  text += '"';
  return text;
}

}  // namespace edgetrain::data
