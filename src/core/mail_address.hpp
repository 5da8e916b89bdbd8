// Approvers' e-mail addresses: the one check every registered address passes,
// and the masked form shown to a voter to say where a code was sent.
//
// Only the plain "local@domain" form people type into a sign-up field is
// accepted. Everything the address grammar allows beyond that (quoted local
// parts, comments, display names, domain literals, lists) is refused: an
// address here ends up in an SMTP envelope and a To: header, and every extra
// form is one more way to smuggle a second recipient or a header.
#pragma once

#include <string>
#include <string_view>

namespace mpa::mail {

// Longest address an SMTP path can carry (RFC 5321 4.5.3.1.3, less the <>).
inline constexpr std::size_t kMaxAddressLength = 254;
// Longest local part (RFC 5321 4.5.3.1.1).
inline constexpr std::size_t kMaxLocalPartLength = 64;
// Longest domain label (RFC 1035 2.3.4).
inline constexpr std::size_t kMaxDomainLabelLength = 63;

// Throws mpa::Error (SQLSTATE 22023) naming the reason when `address` is not a
// bare addr-spec as described above; returns normally otherwise.
void validate_address(std::string_view address);

// "alice@example.com" -> "a***@e***.com": enough for the owner to recognise
// the mailbox, too little to learn it. Meant for validated addresses; for
// anything else it still returns a masked string and never throws.
std::string mask_address(std::string_view address);

}  // namespace mpa::mail
