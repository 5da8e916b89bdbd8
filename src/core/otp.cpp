#include "core/otp.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <array>
#include <string>

#include "core/canonical_encoding.hpp"
#include "core/error.hpp"

namespace mpa::otp {
namespace {

constexpr std::string_view kEncodingTag = "pg_mpa-otp-v1";
constexpr std::uint32_t kCodeModulus = 1000000;
// 4294 * 10^6: values at or above it would make the low codes more likely.
constexpr std::uint32_t kAcceptanceLimit = 4294000000u;
constexpr std::size_t kMacBytes = 32;

using Mac = std::array<std::uint8_t, kMacBytes>;

std::string encode(const ChallengeBinding &binding) {
  using namespace encoding;
  std::string encoded;
  append_bytes_field(encoded, kEncodingTag);
  append_integer_field(encoded, static_cast<std::uint64_t>(binding.challenge_id));
  append_integer_field(encoded, static_cast<std::uint64_t>(binding.request_id));
  append_bytes_field(encoded, binding.fingerprint);
  append_integer_field(encoded, binding.approver);
  append_bytes_field(encoded, binding.decision);
  append_bytes_field(encoded, binding.nonce);
  return encoded;
}

Mac hmac_sha256(const std::uint8_t *key, const std::uint8_t *data, std::size_t data_bytes) {
  Mac mac{};
  unsigned int mac_bytes = 0;
  if (HMAC(EVP_sha256(), key, static_cast<int>(kKeyBytes), data, data_bytes, mac.data(), &mac_bytes) == nullptr ||
      mac_bytes != kMacBytes)
    throw Error(sqlstate::kInternalError, "could not compute the one-time code (HMAC-SHA-256 failed)");
  return mac;
}

}  // namespace

std::string derive_code(const std::uint8_t *key, std::size_t key_bytes, const ChallengeBinding &binding) {
  if (key == nullptr || key_bytes != kKeyBytes)
    throw Error(sqlstate::kInternalError, "the one-time code key must be " + std::to_string(kKeyBytes) + " bytes");

  const std::string encoded = encode(binding);
  Mac mac = hmac_sha256(key, reinterpret_cast<const std::uint8_t *>(encoded.data()), encoded.size());
  std::optional<std::uint32_t> value = pick_unbiased(mac.data(), mac.size());
  for (std::uint8_t counter = 1; !value; ++counter) {
    std::array<std::uint8_t, kMacBytes + 1> next_input{};
    std::copy(mac.begin(), mac.end(), next_input.begin());
    next_input.back() = counter;
    mac = hmac_sha256(key, next_input.data(), next_input.size());
    value = pick_unbiased(mac.data(), mac.size());
  }

  std::string code(kCodeDigits, '0');
  std::uint32_t rest = *value;
  for (std::size_t i = kCodeDigits; i-- > 0; rest /= 10) code[i] = static_cast<char>('0' + rest % 10);
  return code;
}

std::optional<std::uint32_t> pick_unbiased(const std::uint8_t *mac, std::size_t len) {
  for (std::size_t offset = 0; offset + 4 <= len; offset += 4) {
    const std::uint32_t value = (std::uint32_t{mac[offset]} << 24) | (std::uint32_t{mac[offset + 1]} << 16) |
                                (std::uint32_t{mac[offset + 2]} << 8) | std::uint32_t{mac[offset + 3]};
    if (value < kAcceptanceLimit) return value % kCodeModulus;
  }
  return std::nullopt;
}

bool is_well_formed_code(std::string_view text) {
  if (text.size() != kCodeDigits) return false;
  bool all_digits = true;
  for (char c : text) all_digits &= (c >= '0' && c <= '9');
  return all_digits;
}

bool codes_equal(std::string_view expected, std::string_view given) {
  if (!is_well_formed_code(expected) || !is_well_formed_code(given)) return false;
  return CRYPTO_memcmp(expected.data(), given.data(), kCodeDigits) == 0;
}

}  // namespace mpa::otp
