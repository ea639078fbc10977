// Which stores a command reads, from flags and the SDK's environment variables
// (substrate.md §1.1): --store / FASTEN_AUDIT_DSN, --sys-store / FASTEN_SYSLOG_DSN,
// --api-store / FASTEN_API_DSN. Stream stores default to the audit store's SQLite file with
// their default tables (syslog, api_log). A stream table that does not exist is not fatal: that
// stream is reported as having no store.
#pragma once

#include <memory>
#include <string>

#include "app/cli.h"
#include "store/reader.h"

namespace fasten {

struct OpenStores {
  std::unique_ptr<AuditReader> audit;
  std::unique_ptr<StreamReader> sys, api;
  std::string sys_missing_why, api_missing_why;
};

// Flags understood by ResolveStores.
inline const FlagSpec kStoreFlags[] = {{"store", true}, {"sys-store", true}, {"api-store", true}};

// Opens the audit store (required) and the stream stores (optional).
Status OpenStoresFromArgs(const Args& args, const Env& env, bool need_streams, OpenStores* out);

}  // namespace fasten
