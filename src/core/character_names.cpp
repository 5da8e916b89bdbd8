#include "core/character_names.hpp"

namespace mpa {

std::string describe_character(char c) {
  const auto byte = static_cast<unsigned char>(c);
  if (byte > 0x20 && byte < 0x7f) return std::string("\"") + c + "\"";
  static constexpr char kHexDigits[] = "0123456789ABCDEF";
  return std::string("byte 0x") + kHexDigits[byte >> 4] + kHexDigits[byte & 0xf];
}

}  // namespace mpa
