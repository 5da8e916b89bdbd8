#include "core/audit_export.hpp"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "core/error.hpp"

namespace {

using mpa::audit::ChainPoint;
using mpa::audit::Entry;
using mpa::audit::entry_hash;
using mpa::audit::ExportChecker;
using mpa::audit::export_line;
using mpa::audit::parse_export_line;

// A chain of `length` exported lines, each entry with awkward text (quotes,
// backslashes, a line break, UTF-8, a control character) so that the format
// is tested on what jsonb and role names can hold.
std::vector<std::string> export_of(int length, std::int64_t first_seq = 1, std::string previous = "") {
  std::vector<std::string> lines;
  for (std::int64_t seq = first_seq; seq < first_seq + length; seq++) {
    Entry entry{seq, 100 + seq, 789'000'000'000'000LL + seq, seq % 2 ? "request" : "vote", seq % 3 ? seq : 0,
                "al\"ice\\", "dätäbase", "{\"statement\": \"DROP TABLE \\\"x\\\"\\n\", \"t\": \"\x01\"}", previous};
    std::string hash = entry_hash(entry);
    lines.push_back(export_line(entry, hash));
    previous = hash;
  }
  return lines;
}

mpa::audit::ExportVerdict check(const std::vector<std::string> &lines, std::optional<ChainPoint> after = {},
                                std::optional<ChainPoint> head = {}) {
  ExportChecker checker(std::move(after), std::move(head));
  for (const std::string &line : lines)
    if (!checker.add_line(line)) break;
  return checker.verdict();
}

std::string hash_of_line(const std::string &line) { return parse_export_line(line).hash; }

TEST(AuditExport, LineGivesBackEveryHashedFieldExactly) {
  Entry entry{7, 9, -1, "kind \"q\"", 0, "a\\b", "db\r\n", "{\"k\": \"v\\u0001\"}\t", "ab"};
  std::string line = export_line(entry, "hash");
  EXPECT_EQ(line.find('\n'), std::string::npos) << "one entry, one line";
  mpa::audit::ExportedEntry back = parse_export_line(line);
  EXPECT_EQ(back.entry.seq, 7);
  EXPECT_EQ(back.entry.id, 9);
  EXPECT_EQ(back.entry.recorded_at, -1);
  EXPECT_EQ(back.entry.kind, entry.kind);
  EXPECT_EQ(back.entry.request_id, 0);
  EXPECT_EQ(back.entry.actor, entry.actor);
  EXPECT_EQ(back.entry.database, entry.database);
  EXPECT_EQ(back.entry.detail, entry.detail);
  EXPECT_EQ(back.entry.previous_hash, "ab");
  EXPECT_EQ(back.hash, "hash");
  EXPECT_NE(line.find("\"request_id\": null"), std::string::npos) << "no request is null, not 0";
  EXPECT_NE(line.find("\"recorded_at\": \"1999-12-31T23:59:59.999999Z\""), std::string::npos) << line;
}

TEST(AuditExport, TimesAreUtcToTheMicrosecond) {
  EXPECT_EQ(mpa::audit::format_utc(0), "2000-01-01T00:00:00.000000Z");
  // 2024-02-29 12:34:56.000789 UTC: 8825 days after 2000-01-01.
  std::int64_t leap = (8825LL * 86400 + 12 * 3600 + 34 * 60 + 56) * 1000000 + 789;
  EXPECT_EQ(mpa::audit::format_utc(leap), "2024-02-29T12:34:56.000789Z");
  EXPECT_EQ(mpa::audit::parse_utc("2024-02-29T12:34:56.000789Z"), leap);
  for (std::int64_t t : {std::int64_t{0}, std::int64_t{-1}, leap, std::int64_t{-63'082'281'600'000'000LL}})
    EXPECT_EQ(mpa::audit::parse_utc(*mpa::audit::format_utc(t)), t) << t;
  EXPECT_EQ(mpa::audit::parse_utc("2023-02-29T00:00:00.000000Z"), std::nullopt) << "no such day";
  EXPECT_EQ(mpa::audit::parse_utc("2023-01-01 00:00:00.000000Z"), std::nullopt);
  EXPECT_EQ(mpa::audit::parse_utc("2023-01-01T24:00:00.000000Z"), std::nullopt);
  // Outside years 1-9999 (PostgreSQL's infinity, say) the time is an integer.
  Entry far{1, 1, INT64_MAX, "k", 0, "a", "d", "{}", ""};
  EXPECT_EQ(parse_export_line(export_line(far, "h")).entry.recorded_at, INT64_MAX);
}

TEST(AuditExport, MalformedLinesAreRefusedSayingWhy) {
  std::string good = export_of(1)[0];
  auto refusal = [](const std::string &line) {
    try {
      parse_export_line(line);
    } catch (const mpa::Error &e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  EXPECT_EQ(refusal(good), "accepted");
  EXPECT_NE(refusal(good.substr(0, good.size() - 1)).find("expected"), std::string::npos);
  EXPECT_EQ(refusal(good + "x"), "text after the object");
  std::string no_hash = good.substr(0, good.find(", \"hash\"")) + "}";
  EXPECT_EQ(refusal(no_hash), "field \"hash\" is missing");
  EXPECT_EQ(refusal(good.substr(0, good.size() - 1) + ", \"note\": \"x\"}"), "unknown field \"note\"");
  EXPECT_EQ(refusal(good.substr(0, good.size() - 1) + ", \"seq\": 1}"), "field \"seq\" appears twice");
  EXPECT_EQ(refusal("{\"seq\": \"1\"}"), "field \"seq\" must be an integer");
  EXPECT_EQ(refusal("{\"seq\": 99999999999999999999}"), "integer out of range");
  EXPECT_NE(refusal("{\"kind\": \"a\\x\"}").find("unknown escape"), std::string::npos);
  EXPECT_NE(refusal("{\"kind\": \"\\ud800\"}").find("surrogate"), std::string::npos);
  EXPECT_EQ(refusal(""), "expected '{' at column 1");
}

TEST(AuditExport, AnIntactExportSaysHowFarItGoes) {
  std::vector<std::string> lines = export_of(5);
  auto verdict = check(lines);
  EXPECT_TRUE(verdict.intact);
  EXPECT_EQ(verdict.message, "intact, 5 entries (1 to 5), head entry 5, SHA-256 " + hash_of_line(lines[4]));
  EXPECT_TRUE(check({}).intact);
  EXPECT_EQ(check({}).message, "intact, 0 entries");
  lines.insert(lines.begin() + 2, "");
  lines[0] += "\r";
  EXPECT_TRUE(check(lines).intact) << "empty lines and CRLF line ends are not entries";
}

TEST(AuditExport, TamperingIsNamedByLineAndEntry) {
  std::vector<std::string> lines = export_of(6);
  std::vector<std::string> edited = lines;
  std::size_t at = edited[2].find("al\\\"ice");
  edited[2].replace(at, 2, "AL");
  EXPECT_EQ(check(edited).message,
            "broken at line 3 (entry 3, id 103): its content does not match its hash (the entry was edited)");

  std::vector<std::string> deleted = lines;
  deleted.erase(deleted.begin() + 3);
  EXPECT_EQ(check(deleted).message, "broken at line 4 (entry 5, id 105): entries 4 to 4 are missing (deleted)");

  std::vector<std::string> swapped = lines;
  std::swap(swapped[1], swapped[2]);
  EXPECT_EQ(check(swapped).message.substr(0, 40), "broken at line 2 (entry 3, id 103): entr");
  EXPECT_FALSE(check(swapped).intact);

  std::vector<std::string> garbled = lines;
  garbled[4] = "not json";
  EXPECT_EQ(check(garbled).message,
            "broken at line 5: not an entry of an audit export (expected '{' at column 1)");

  // A rewritten history, re-hashed from the edit on, is intact in itself
  // but not against the head a mail carried before.
  ChainPoint head{6, hash_of_line(lines[5])};
  EXPECT_TRUE(check(lines, {}, head).intact);
  std::vector<std::string> rewritten = export_of(6);
  Entry forged = parse_export_line(rewritten[5]).entry;
  forged.kind = "forged";
  rewritten[5] = export_line(forged, entry_hash(forged));
  EXPECT_TRUE(check(rewritten).intact);
  auto against_head = check(rewritten, {}, head);
  EXPECT_FALSE(against_head.intact);
  EXPECT_NE(against_head.message.find("not the head given"), std::string::npos) << against_head.message;
  // Entries cut off the end: the head is past the export.
  std::vector<std::string> cut(lines.begin(), lines.begin() + 4);
  auto cut_verdict = check(cut, {}, head);
  EXPECT_FALSE(cut_verdict.intact);
  EXPECT_NE(cut_verdict.message.find("cut off the end"), std::string::npos) << cut_verdict.message;
}

TEST(AuditExport, AnExportContinuesAnEarlierOne) {
  std::vector<std::string> whole = export_of(6);
  std::vector<std::string> rest(whole.begin() + 3, whole.end());
  ChainPoint earlier_head{3, hash_of_line(whole[2])};
  auto given = check(rest, earlier_head);
  EXPECT_TRUE(given.intact) << given.message;
  EXPECT_NE(given.message.find("(4 to 6)"), std::string::npos) << given.message;
  EXPECT_NE(given.message.find("as given"), std::string::npos) << given.message;
  // Without the earlier head, the first link is taken as written and said so.
  auto alone = check(rest);
  EXPECT_TRUE(alone.intact);
  EXPECT_NE(alone.message.find("not checked here"), std::string::npos) << alone.message;
  // Against another earlier head, the first entry does not follow.
  ChainPoint wrong{3, hash_of_line(whole[1])};
  auto mismatch = check(rest, wrong);
  EXPECT_FALSE(mismatch.intact);
  EXPECT_EQ(mismatch.message.substr(0, 37), "broken at line 1 (entry 4, id 104): i");
  // An export that does not start right after the earlier head has a gap.
  std::vector<std::string> later(whole.begin() + 4, whole.end());
  EXPECT_NE(check(later, earlier_head).message.find("entries 4 to 4 are missing"), std::string::npos);
}

TEST(AuditExport, ChainPointsAreReadAsMailsWriteThem) {
  std::string hash(64, 'a');
  auto from_mail = mpa::audit::parse_chain_point("entry 12, SHA-256 " + hash);
  ASSERT_TRUE(from_mail);
  EXPECT_EQ(from_mail->seq, 12);
  EXPECT_EQ(from_mail->hash, hash);
  EXPECT_TRUE(mpa::audit::parse_chain_point("12:" + hash));
  EXPECT_FALSE(mpa::audit::parse_chain_point("12:" + hash.substr(1)));
  EXPECT_FALSE(mpa::audit::parse_chain_point("0:" + hash));
  EXPECT_FALSE(mpa::audit::parse_chain_point("x:" + hash));
  EXPECT_FALSE(mpa::audit::parse_chain_point("12:" + std::string(64, 'A')));
}

}  // namespace
