// An unambiguous byte encoding of a record, for what is hashed or MACed
// (one-time codes, audit entries): every field is preceded by its length as
// 8 bytes big-endian; integers are 8 bytes big-endian (so of length 8).
// No two different records encode to the same bytes.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace mpa::encoding {

inline void append_big_endian(std::string &out, std::uint64_t value) {
  for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>((value >> shift) & 0xFF));
}

inline void append_bytes_field(std::string &out, std::string_view bytes) {
  append_big_endian(out, bytes.size());
  out.append(bytes);
}

inline void append_integer_field(std::string &out, std::uint64_t value) {
  append_big_endian(out, sizeof value);
  append_big_endian(out, value);
}

}  // namespace mpa::encoding
