// Texts in a database task's input and output (database_task.hpp): their
// bytes, a length first (-1 for NULL). Both ends use the one server
// encoding (run_in_database refuses another), and pq_sendstring would
// convert them to and from the client's encoding. One encoding for every
// task (describe, claim, execute).
#pragma once

#include "pg/boundary/postgres.hpp"

extern "C" {
#include "libpq/pqformat.h"
}

#include <cstring>

namespace mpa::pg {

inline void send_text(StringInfo to, const char *text) {
  if (text == nullptr) {
    pq_sendint32(to, static_cast<uint32>(-1));
    return;
  }
  int length = static_cast<int>(strlen(text));
  pq_sendint32(to, static_cast<uint32>(length));
  pq_sendbytes(to, text, length);
}

// PostgreSQL-style: a message cut short raises an error.
inline const char *get_text(StringInfo from) {
  int length = static_cast<int>(pq_getmsgint(from, 4));
  if (length < 0) return nullptr;
  const char *bytes = pq_getmsgbytes(from, length);
  return pnstrdup(bytes, length);
}

}  // namespace mpa::pg
