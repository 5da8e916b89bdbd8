// Naming an offending character in an error message, so the message stays
// printable and safe to log whatever the character is.
#pragma once

#include <string>

namespace mpa {

// "\"x\"" for printable ASCII, "byte 0x0A" for anything else.
std::string describe_character(char c);

}  // namespace mpa
