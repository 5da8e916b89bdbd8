// A small per-backend memo from an OID to something read from the catalogs,
// for hooks that run on every query (a syscache probe each time showed in
// the benchmarks' profiles). Direct-mapped: an OID that falls on a taken
// slot replaces it. Its owner clears it from a cache invalidation callback.
#pragma once

#include "pg/boundary/postgres.hpp"

namespace mpa::pg {

template <typename Value, int kSlots = 64>
class OidMemo {
 public:
  // The value remembered for `key`, else lookup(key), remembered.
  template <typename Lookup>
  Value get(Oid key, Lookup lookup) {
    Slot &slot = slots_[key % kSlots];
    if (OidIsValid(key) && slot.key == key) return slot.value;
    Value value = lookup(key);
    slot = Slot{key, value};
    return value;
  }
  void forget(Oid key) {
    if (slots_[key % kSlots].key == key) slots_[key % kSlots].key = InvalidOid;
  }
  void forget_all() {
    for (Slot &slot : slots_) slot.key = InvalidOid;
  }

 private:
  struct Slot {
    Oid key;  // InvalidOid: empty
    Value value;
  };
  Slot slots_[kSlots] = {};
};

}  // namespace mpa::pg
