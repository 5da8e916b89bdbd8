// The mail worker's delivery rules as pure functions: what an SMTP attempt's
// outcome means for the outbox row, and how long to wait before trying again.
#pragma once

#include <chrono>

namespace mpa::mail {

enum class DeliveryOutcome {
  Sent,       // the server took the message: the row is done
  Temporary,  // try again later, with backoff
  Permanent,  // retrying cannot help: dead-letter the row
};

// Classifies an attempt by the last reply code the SMTP server sent, 0 when
// it sent none (connection refused, DNS or TLS failure, timeout).
// 2xx -> Sent, 5xx -> Permanent; everything else, including 0 and codes no
// server should send, is Temporary: mail is at-least-once, so an attempt we
// cannot explain is retried (the worker's attempt limit still ends it)
// rather than dropped.
DeliveryOutcome classify_smtp_reply(int smtp_reply_code);

// How long to wait after `attempts` failed attempts (attempts >= 1) before the
// next one. The ceiling d = min(cap, base * 2^(attempts - 1)) never
// overflows, however large `attempts` is; the delay is then spread over
// [d/2, d] ("equal jitter") so that mails that failed together (an SMTP
// outage) do not all come back at the same moment, while still waiting at
// least half the backoff. jitter01, in [0, 1), picks the point: 0 gives d/2,
// values close to 1 give d.
// Throws mpa::Error (22023) when attempts < 1, base or cap is negative, or
// jitter01 is outside [0, 1).
std::chrono::milliseconds retry_delay(int attempts, std::chrono::milliseconds base, std::chrono::milliseconds cap,
                                      double jitter01);

}  // namespace mpa::mail
