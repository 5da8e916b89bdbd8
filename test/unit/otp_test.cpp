// Unit tests for one-time codes (core/otp).
#include "core/otp.hpp"

#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <array>
#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "core/error.hpp"

namespace mpa::otp {
namespace {

using namespace std::string_literals;

using Key = std::array<std::uint8_t, kKeyBytes>;

Key counting_key() {
  Key key{};
  for (std::size_t i = 0; i < key.size(); ++i) key[i] = static_cast<std::uint8_t>(i);
  return key;
}

ChallengeBinding example_binding() { return {42, 7, "f00d", 16384, "approve", "\x01\x02\x03"s}; }

// HMAC-SHA-256 through OpenSSL's EVP_Q_mac, not the HMAC() call otp.cpp uses.
std::array<std::uint8_t, 32> reference_hmac(const Key &key, const std::string &data) {
  std::array<std::uint8_t, 32> mac{};
  std::size_t mac_bytes = 0;
  const unsigned char *result =
      EVP_Q_mac(nullptr, "HMAC", nullptr, "SHA256", nullptr, key.data(), key.size(),
                reinterpret_cast<const unsigned char *>(data.data()), data.size(), mac.data(), mac.size(), &mac_bytes);
  EXPECT_NE(result, nullptr);
  EXPECT_EQ(mac_bytes, mac.size());
  return mac;
}

TEST(DeriveCode, KnownAnswer) {
  // The encoding of example_binding(), written out byte by byte: any change
  // of field order, length prefix, integer width or tag breaks this test.
  const std::string encoding =
      "\0\0\0\0\0\0\0\x0d"s "pg_mpa-otp-v1"s         // tag
      "\0\0\0\0\0\0\0\x08"s "\0\0\0\0\0\0\0\x2a"s    // challenge_id 42
      "\0\0\0\0\0\0\0\x08"s "\0\0\0\0\0\0\0\x07"s    // request_id 7
      "\0\0\0\0\0\0\0\x04"s "f00d"s                  // fingerprint
      "\0\0\0\0\0\0\0\x08"s "\0\0\0\0\0\0\x40\x00"s  // approver 16384
      "\0\0\0\0\0\0\0\x07"s "approve"s               // decision
      "\0\0\0\0\0\0\0\x03"s "\x01\x02\x03"s;         // nonce
  const Key key = counting_key();
  const auto mac = reference_hmac(key, encoding);
  const std::uint32_t first = (std::uint32_t{mac[0]} << 24) | (std::uint32_t{mac[1]} << 16) |
                              (std::uint32_t{mac[2]} << 8) | std::uint32_t{mac[3]};
  ASSERT_LT(first, 4294000000u) << "pick another example: this one needs the rejection path";
  std::string expected = std::to_string(first % 1000000);
  expected.insert(0, 6 - expected.size(), '0');

  EXPECT_EQ(derive_code(key.data(), key.size(), example_binding()), expected);
  // Pinned as well, so that changing the test's encoding along with the
  // code's cannot go unnoticed.
  EXPECT_EQ(expected, "097049");
}

TEST(DeriveCode, NegativeIdsAreTwosComplement) {
  ChallengeBinding binding = example_binding();
  binding.challenge_id = -1;
  const std::string encoding =
      "\0\0\0\0\0\0\0\x0d"s "pg_mpa-otp-v1"s
      "\0\0\0\0\0\0\0\x08"s "\xff\xff\xff\xff\xff\xff\xff\xff"s
      "\0\0\0\0\0\0\0\x08"s "\0\0\0\0\0\0\0\x07"s
      "\0\0\0\0\0\0\0\x04"s "f00d"s
      "\0\0\0\0\0\0\0\x08"s "\0\0\0\0\0\0\x40\x00"s
      "\0\0\0\0\0\0\0\x07"s "approve"s
      "\0\0\0\0\0\0\0\x03"s "\x01\x02\x03"s;
  const Key key = counting_key();
  const auto mac = reference_hmac(key, encoding);
  const auto value = pick_unbiased(mac.data(), mac.size());
  ASSERT_TRUE(value.has_value());
  std::string expected = std::to_string(*value);
  expected.insert(0, 6 - expected.size(), '0');
  EXPECT_EQ(derive_code(key.data(), key.size(), binding), expected);
}

TEST(DeriveCode, IsSixDigitsAndDeterministic) {
  const Key key = counting_key();
  const std::string code = derive_code(key.data(), key.size(), example_binding());
  EXPECT_TRUE(is_well_formed_code(code)) << code;
  EXPECT_EQ(derive_code(key.data(), key.size(), example_binding()), code);
}

TEST(DeriveCode, RefusesKeysOfTheWrongSize) {
  const Key key = counting_key();
  for (std::size_t size : {std::size_t{0}, std::size_t{16}, kKeyBytes - 1, kKeyBytes + 1}) {
    try {
      derive_code(key.data(), size, example_binding());
      ADD_FAILURE() << "accepted a key of " << size << " bytes";
    } catch (const Error &error) {
      EXPECT_EQ(error.sqlstate(), "XX000");
      EXPECT_NE(std::string(error.what()).find("32 bytes"), std::string::npos) << error.what();
    }
  }
  EXPECT_THROW(derive_code(nullptr, kKeyBytes, example_binding()), Error);
}

TEST(DeriveCode, FieldBoundariesAreUnambiguous) {
  const Key key = counting_key();
  ChallengeBinding left = example_binding();
  ChallengeBinding right = example_binding();
  left.fingerprint = "ab";
  left.decision = "c";
  right.fingerprint = "a";
  right.decision = "bc";
  EXPECT_NE(derive_code(key.data(), key.size(), left), derive_code(key.data(), key.size(), right));

  left = right = example_binding();
  left.nonce = ""s;
  right.nonce = "\0"s;
  EXPECT_NE(derive_code(key.data(), key.size(), left), derive_code(key.data(), key.size(), right));
}

class RandomBindings {
 public:
  explicit RandomBindings(std::uint64_t seed) : engine_(seed) {}

  ChallengeBinding next() {
    return {static_cast<std::int64_t>(engine_()), static_cast<std::int64_t>(engine_()), text(64),
            static_cast<std::uint32_t>(engine_()), engine_() % 2 ? "approve" : "reject", text(32)};
  }

  std::string text(std::size_t max_length) {
    std::string bytes(engine_() % (max_length + 1), '\0');
    for (char &c : bytes) c = static_cast<char>(engine_());
    return bytes;
  }

  std::uint64_t number() { return engine_(); }

 private:
  std::mt19937_64 engine_;
};

// Changes one byte (or adds one to an empty string).
void alter(std::string &bytes, std::uint64_t random) {
  if (bytes.empty()) {
    bytes.push_back(static_cast<char>(random));
    return;
  }
  bytes[random % bytes.size()] ^= static_cast<char>(1 + random % 255);
}

TEST(DeriveCode, EveryFieldChangesTheCode) {
  const std::vector<std::pair<const char *, std::function<void(ChallengeBinding &, std::uint64_t)>>> changes = {
      {"challenge_id", [](ChallengeBinding &b, std::uint64_t r) { b.challenge_id ^= std::int64_t{1} << (r % 64); }},
      {"request_id", [](ChallengeBinding &b, std::uint64_t r) { b.request_id ^= std::int64_t{1} << (r % 64); }},
      {"fingerprint", [](ChallengeBinding &b, std::uint64_t r) { alter(b.fingerprint, r); }},
      {"approver", [](ChallengeBinding &b, std::uint64_t r) { b.approver ^= std::uint32_t{1} << (r % 32); }},
      {"decision",
       [](ChallengeBinding &b, std::uint64_t) { b.decision = b.decision == "approve" ? "reject" : "approve"; }},
      {"nonce", [](ChallengeBinding &b, std::uint64_t r) { alter(b.nonce, r); }},
  };
  constexpr int kTrials = 2000;
  RandomBindings random(1);
  const Key key = counting_key();
  for (const auto &[field, change] : changes) {
    int unchanged = 0;
    for (int trial = 0; trial < kTrials; ++trial) {
      ChallengeBinding binding = random.next();
      const std::string before = derive_code(key.data(), key.size(), binding);
      change(binding, random.number());
      unchanged += derive_code(key.data(), key.size(), binding) == before;
    }
    EXPECT_LE(unchanged, kTrials / 100) << field;
  }

  int unchanged_by_key = 0;
  Key other_key = key;
  for (int trial = 0; trial < kTrials; ++trial) {
    const ChallengeBinding binding = random.next();
    other_key[trial % kKeyBytes] ^= 0x01;
    unchanged_by_key +=
        derive_code(key.data(), key.size(), binding) == derive_code(other_key.data(), other_key.size(), binding);
    other_key = key;
  }
  EXPECT_LE(unchanged_by_key, kTrials / 100);
}

TEST(DeriveCode, DigitsAreUniform) {
  constexpr int kSamples = 200000;
  RandomBindings random(2);
  const Key key = counting_key();
  std::array<std::array<int, 10>, kCodeDigits> counts{};
  for (int sample = 0; sample < kSamples; ++sample) {
    const std::string code = derive_code(key.data(), key.size(), random.next());
    ASSERT_TRUE(is_well_formed_code(code)) << code;
    for (std::size_t position = 0; position < kCodeDigits; ++position) ++counts[position][code[position] - '0'];
  }
  // Chi-square with 9 degrees of freedom: mean 9, and above 60 with
  // probability below 1e-9. A biased reduction (plain mod 10^6 of 32 bits
  // favours low digits only slightly; taking one byte per digit would not)
  // or a stuck digit lands far above.
  const double expected = kSamples / 10.0;
  for (std::size_t position = 0; position < kCodeDigits; ++position) {
    double chi_square = 0;
    for (int count : counts[position]) chi_square += (count - expected) * (count - expected) / expected;
    EXPECT_LT(chi_square, 60.0) << "digit position " << position;
  }
}

std::array<std::uint8_t, 32> mac_of_words(std::initializer_list<std::uint32_t> words, std::uint32_t rest) {
  std::array<std::uint8_t, 32> mac{};
  std::size_t offset = 0;
  auto put = [&](std::uint32_t word) {
    for (int shift = 24; shift >= 0; shift -= 8) mac[offset++] = static_cast<std::uint8_t>(word >> shift);
  };
  for (std::uint32_t word : words) put(word);
  while (offset < mac.size()) put(rest);
  return mac;
}

TEST(PickUnbiased, TakesTheFirstValueBelowTheLimitModOneMillion) {
  auto mac = mac_of_words({123456789}, 0);
  EXPECT_EQ(pick_unbiased(mac.data(), mac.size()), 456789u);
  mac = mac_of_words({0}, 0xFFFFFFFF);
  EXPECT_EQ(pick_unbiased(mac.data(), mac.size()), 0u);
}

TEST(PickUnbiased, Boundaries) {
  auto mac = mac_of_words({4293999999u}, 0xFFFFFFFF);
  EXPECT_EQ(pick_unbiased(mac.data(), mac.size()), 999999u);
  mac = mac_of_words({4294000000u, 17}, 0);
  EXPECT_EQ(pick_unbiased(mac.data(), mac.size()), 17u);
  mac = mac_of_words({0xFFFFFFFF, 4294000000u, 4294000001u, 1000001}, 0);
  EXPECT_EQ(pick_unbiased(mac.data(), mac.size()), 1u);
}

TEST(PickUnbiased, LastWordAccepted) {
  const auto mac = mac_of_words({4294000000u, 4294000000u, 4294000000u, 4294000000u, 4294000000u, 4294000000u,
                                 4294000000u, 2000042},
                                0);
  EXPECT_EQ(pick_unbiased(mac.data(), mac.size()), 42u);
}

TEST(PickUnbiased, AllRejected) {
  auto mac = mac_of_words({}, 4294000000u);
  EXPECT_EQ(pick_unbiased(mac.data(), mac.size()), std::nullopt);
  mac = mac_of_words({}, 0xFFFFFFFF);
  EXPECT_EQ(pick_unbiased(mac.data(), mac.size()), std::nullopt);
}

TEST(PickUnbiased, IgnoresAPartialTrailingGroup) {
  const std::uint8_t mac[] = {0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x00};
  EXPECT_EQ(pick_unbiased(mac, sizeof mac), std::nullopt);
  EXPECT_EQ(pick_unbiased(mac, 0), std::nullopt);
}

TEST(IsWellFormedCode, ExactlySixAsciiDigits) {
  for (const char *code : {"000000", "123456", "999999", "042042"}) EXPECT_TRUE(is_well_formed_code(code)) << code;
  for (const std::string &code :
       {""s, "12345"s, "1234567"s, " 123456"s, "123456 "s, "123 456"s, "+12345"s, "-12345"s, "12345a"s, "１２３４５６"s,
        "12345\xd9\xa3"s, "\xd9\xa1\xd9\xa2\xd9\xa3"s, "12345\0"s, "123456\n"s})
    EXPECT_FALSE(is_well_formed_code(code)) << code;
}

TEST(CodesEqual, ComparesWellFormedCodes) {
  EXPECT_TRUE(codes_equal("123456", "123456"));
  EXPECT_TRUE(codes_equal("000000", "000000"));
  EXPECT_FALSE(codes_equal("123456", "123457"));
  EXPECT_FALSE(codes_equal("123456", "023456"));
  EXPECT_FALSE(codes_equal("123456", "654321"));
}

TEST(CodesEqual, FalseWhenEitherIsMalformed) {
  EXPECT_FALSE(codes_equal("123456", "123456 "));
  EXPECT_FALSE(codes_equal("123456", "12345"));
  EXPECT_FALSE(codes_equal("123456", ""));
  EXPECT_FALSE(codes_equal("", ""));
  EXPECT_FALSE(codes_equal("12345x", "12345x"));
  EXPECT_FALSE(codes_equal("1234567", "1234567"));
  EXPECT_FALSE(codes_equal("123456"s, "123456\0"s));
}

}  // namespace
}  // namespace mpa::otp
