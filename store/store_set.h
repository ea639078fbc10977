// The stores one worker reads: the audit table and the two stream tables. Readers are not
// thread-safe, so every thread that runs tools opens its own StoreSet from one StoreConfig.
// StoreView is the non-owning form of the same three readers, for code that reads stores it does
// not own (the citation validator, request traces, tests wrapping a reader).
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <string_view>

#include "store/reader.h"
#include "util/status.h"

namespace fasten {

struct StoreConfig {
  Dsn audit;
  Dsn sys;  // defaults to the audit database with the default table
  Dsn api;
};

struct StoreSet {
  std::unique_ptr<AuditReader> audit;
  std::unique_ptr<StreamReader> sys, api;
  std::string sys_missing_why, api_missing_why;  // why a stream has no reader

  // While *flag is true, running queries of every reader stop with kCancelled.
  void SetInterrupt(const std::atomic<bool>* flag);

  // The readers, not owned; valid while this set lives and is not reassigned.
  struct StoreView view() const;
};

// The readers of a StoreSet (or of readers owned elsewhere), not owned. `audit` is required by
// every user; a null stream reader means that stream has no store, and `*_missing_why` says why.
struct StoreView {
  AuditReader* audit = nullptr;
  StreamReader* sys = nullptr;
  StreamReader* api = nullptr;
  std::string_view sys_missing_why, api_missing_why;
};

inline StoreView StoreSet::view() const {
  return {audit.get(), sys.get(), api.get(), sys_missing_why, api_missing_why};
}

// Opens the audit store (required) and, when `need_streams`, the stream stores (a missing stream
// table is not fatal: that stream reports why it has no store).
Status OpenStoreSet(const StoreConfig& config, bool need_streams, StoreSet* out);

}  // namespace fasten
