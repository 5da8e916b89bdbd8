// SHA-256 as 64 lower-case hex digits (OpenSSL).
#pragma once

#include <string>
#include <string_view>

namespace mpa {

// Throws mpa::Error (XX000) if OpenSSL fails; `what` names the purpose.
std::string sha256_hex(std::string_view data, const char *what);

}  // namespace mpa
