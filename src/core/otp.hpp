// One-time codes: the six digits mailed to an approver to confirm one vote.
//
// Codes are derived, never stored: code = six decimal digits taken without
// modulo bias from HMAC-SHA-256(key, binding), where the key lives only in
// shared memory (docs/decisions.md, "Approval": Codes) and the binding names
// everything the vote is about. Whoever can read every table still cannot
// compute or brute-force a code offline, and a code confirms exactly one
// (challenge, request, statement, approver, decision, nonce).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace mpa::otp {

inline constexpr std::size_t kKeyBytes = 32;
inline constexpr std::size_t kCodeDigits = 6;

// What a code confirms. The mail worker and mpa_verify build it from the same
// rows, so both derive the same code; changing any field changes the code.
struct ChallengeBinding {
  std::int64_t challenge_id;
  std::int64_t request_id;
  std::string fingerprint;  // of the normalised statement (statement_text.hpp)
  std::uint32_t approver;   // the approver's role oid
  std::string decision;     // "approve" or "reject"
  std::string nonce;        // raw random bytes, fresh for every code sent
};

// The six ASCII digits for `binding` under the code key.
// The MAC input is unambiguous: the tag "pg_mpa-otp-v1" and then every field,
// in the order of ChallengeBinding, each preceded by its length as 8 bytes
// big-endian; integers are written as 8 bytes big-endian (so with length 8),
// the tag is written the same way as the text fields. Digits come from
// pick_unbiased(); in the astronomically rare case that rejects the whole
// MAC, the next MAC is HMAC(key, previous MAC || counter byte), counter
// 1, 2, ...
// Throws mpa::Error (XX000) when key_bytes != kKeyBytes or key is null.
std::string derive_code(const std::uint8_t *key, std::size_t key_bytes, const ChallengeBinding &binding);

// Reads `mac` as successive 4-byte big-endian values and returns the first
// one below 4294000000 (the largest multiple of 10^6 that fits in 32 bits),
// reduced mod 10^6: every code is then equally likely. Bytes after the last
// whole 4-byte group are ignored. nullopt when every value is rejected.
std::optional<std::uint32_t> pick_unbiased(const std::uint8_t *mac, std::size_t len);

// Exactly kCodeDigits ASCII digits '0'..'9': no spaces, signs or other
// scripts' digits.
bool is_well_formed_code(std::string_view text);

// Whether `given` is the `expected` code. False when either is not well
// formed; otherwise the comparison is CRYPTO_memcmp, so its timing does not
// depend on which digits differ.
bool codes_equal(std::string_view expected, std::string_view given);

}  // namespace mpa::otp
