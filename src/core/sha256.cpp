#include "core/sha256.hpp"

#include <openssl/evp.h>

#include "core/error.hpp"

namespace mpa {

std::string sha256_hex(std::string_view data, const char *what) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_bytes = 0;
  if (EVP_Digest(data.data(), data.size(), digest, &digest_bytes, EVP_sha256(), nullptr) != 1)
    throw Error(sqlstate::kInternalError, std::string("could not compute ") + what + " (SHA-256 failed)");
  constexpr char kHexDigits[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(2 * digest_bytes);
  for (unsigned int i = 0; i < digest_bytes; ++i) {
    hex += kHexDigits[digest[i] >> 4];
    hex += kHexDigits[digest[i] & 0x0F];
  }
  return hex;
}

}  // namespace mpa
