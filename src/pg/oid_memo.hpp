// A small per-backend memo from an OID to something read from the catalogs,
// for hooks that run on every query (a syscache probe each time showed in
// the benchmarks' profiles). Direct-mapped: an OID that falls on a taken
// slot replaces it. Its owner clears it from a cache invalidation callback.
#pragma once

#include "pg/postgres.hpp"

namespace mpa::pg {

template <typename Value, int kSlots = 64>
class OidMemo {
 public:
  bool find(Oid key, Value *value) const {
    const Slot &slot = slots_[key % kSlots];
    if (!OidIsValid(key) || slot.key != key) return false;
    *value = slot.value;
    return true;
  }
  void remember(Oid key, Value value) { slots_[key % kSlots] = Slot{key, value}; }
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
