// What the CSV readers share: fields trimmed of blanks, parsed as numbers, quoted in messages.
#pragma once

#include <string>
#include <string_view>

namespace edgetrain::data {

// The field without surrounding blanks (spaces and tabs).
std::string_view trim(std::string_view text);
// Parses a whole field (surrounding blanks allowed) as a number; integers take a fast path. A
// number beyond double's range is ±infinity (still a number, refused as not finite by its reader).
bool parse_number(std::string_view field, double& value);
// "field" in double quotes, for messages.
std::string quote(std::string_view field);

}  // namespace edgetrain::data
