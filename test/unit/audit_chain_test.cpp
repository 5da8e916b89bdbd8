#include "core/audit_chain.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace {

using mpa::audit::ChainVerifier;
using mpa::audit::Entry;
using mpa::audit::entry_hash;

struct Stored {
  Entry entry;
  std::string hash;
};

std::vector<Stored> make_chain(int length) {
  std::vector<Stored> chain;
  std::string previous;
  for (int i = 1; i <= length; i++) {
    Entry entry{i, 100 + i, 1000000LL * i, i % 2 ? "request" : "vote", i, "alice", "postgres",
                "{\"n\": " + std::to_string(i) + "}", previous};
    std::string hash = entry_hash(entry);
    chain.push_back({entry, hash});
    previous = hash;
  }
  return chain;
}

// The 1-based position of the first entry the verifier reports, 0 if none.
int first_break(const std::vector<Stored> &chain) {
  ChainVerifier verifier;
  for (std::size_t i = 0; i < chain.size(); i++)
    if (verifier.check(chain[i].entry, chain[i].hash)) return static_cast<int>(i) + 1;
  return 0;
}

TEST(AuditChain, HashIsHexSha256AndDependsOnEveryField) {
  Entry base{1, 7, 42, "vote", 3, "alice", "postgres", "{}", ""};
  std::string hash = entry_hash(base);
  EXPECT_EQ(hash.size(), 64u);
  EXPECT_EQ(hash, entry_hash(base));
  std::vector<Entry> variants(9, base);
  variants[0].seq = 2;
  variants[1].id = 8;
  variants[2].recorded_at = 43;
  variants[3].kind = "vote ";
  variants[4].request_id = 4;
  variants[5].actor = "bob";
  variants[6].database = "app";
  variants[7].detail = "{\"a\": 1}";
  variants[8].previous_hash = "00";
  for (const Entry &variant : variants) EXPECT_NE(entry_hash(variant), hash);
}

TEST(AuditChain, FieldBoundariesAreUnambiguous) {
  Entry a{1, 1, 1, "ab", 0, "c", "db", "{}", ""};
  Entry b{1, 1, 1, "a", 0, "bc", "db", "{}", ""};
  EXPECT_NE(entry_hash(a), entry_hash(b));
}

TEST(AuditChain, AnIntactChainVerifies) {
  auto chain = make_chain(50);
  EXPECT_EQ(first_break(chain), 0);
  ChainVerifier verifier;
  for (const auto &stored : chain) verifier.check(stored.entry, stored.hash);
  EXPECT_EQ(verifier.checked(), 50);
  EXPECT_EQ(verifier.head_seq(), 50);
  EXPECT_EQ(verifier.head_hash(), chain.back().hash);
}

TEST(AuditChain, AnEditedEntryIsNamed) {
  auto chain = make_chain(20);
  chain[9].entry.detail = "{\"n\": 999}";
  EXPECT_EQ(first_break(chain), 10);
}

TEST(AuditChain, AnEditedEntryWithARecomputedHashBreaksTheNextOne) {
  auto chain = make_chain(20);
  chain[9].entry.actor = "mallory";
  chain[9].hash = entry_hash(chain[9].entry);
  EXPECT_EQ(first_break(chain), 11);
}

TEST(AuditChain, ADeletedEntryIsFound) {
  auto chain = make_chain(20);
  chain.erase(chain.begin() + 4);
  EXPECT_EQ(first_break(chain), 5);  // the entry after the hole
}

TEST(AuditChain, AnInsertedEntryIsFound) {
  auto chain = make_chain(20);
  Stored forged = chain[5];
  forged.entry.detail = "{\"forged\": true}";
  forged.hash = entry_hash(forged.entry);
  chain.insert(chain.begin() + 6, forged);
  EXPECT_EQ(first_break(chain), 7);
}

TEST(AuditChain, SwappedEntriesAreFound) {
  auto chain = make_chain(20);
  std::swap(chain[3], chain[4]);
  EXPECT_EQ(first_break(chain), 4);
}

TEST(AuditChain, TheFirstEntryMustStartTheChain) {
  auto chain = make_chain(3);
  chain.erase(chain.begin());
  EXPECT_EQ(first_break(chain), 1);
}

}  // namespace
