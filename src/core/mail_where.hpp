// What every mail says about where it comes from (docs/decisions.md, "Mail
// that says where and links there"): the cluster, the host and the
// database, a link to the request's page in the approval portal, and the
// Message-ID that threads every mail about one request.
//
// The label and the portal URL come from postgresql.conf and reach mail
// headers (X-MPA-Cluster) and bodies; they are checked when the setting is
// loaded, so that a value a mail could not carry is refused with a clear
// error instead of being sent mangled. The mail renderer (mail_message)
// still treats every header value as hostile.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace mpa::mail {

constexpr std::size_t kMaxLabelLength = 200;
constexpr std::size_t kMaxPortalUrlLength = 500;

// A cluster label (mpa.cluster_label): 1 to 200 bytes, no control
// character (CR, LF, TAB, NUL, ...). Empty is allowed (the default applies).
// Throws mpa::Error (22023) naming `setting`.
void validate_label(std::string_view setting, std::string_view label);

// The portal's address (mpa.portal_url): empty (no links), or
// http:// or https://, a host, an optional path; printable ASCII without
// spaces, no query or fragment (a link is made by appending a path), at
// most 500 bytes. Throws mpa::Error (22023).
void validate_portal_url(std::string_view url);

// The page of a request in the portal: the code is entered there too, so
// the code mail links to it as well. Never carries anything but the id.
std::string request_link(std::string_view portal_url, std::int64_t request_id);

// The Message-ID (without angle brackets) of a request's first mail, which
// every later mail about it names in In-Reply-To and References: the same
// for a request on every retry and every recipient, different for another
// cluster (`installation`: something stable and unique per installation,
// letters, digits and dots only) or another request.
std::string thread_root_id(std::int64_t request_id, std::string_view installation, std::string_view domain);

// The lines that end every mail's text: where it comes from, and the link.
// A control character in a value (a database named with a line break)
// becomes a space: each value stays on its line.
struct Where {
  std::string cluster;
  std::string host;
  std::string database;
  std::string link;        // empty: no portal
  bool code_mail = false;  // the link is where the code is entered
};
std::string where_lines(const Where &where);

}  // namespace mpa::mail
