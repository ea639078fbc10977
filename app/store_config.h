// Which stores a command reads, from flags and the SDK's environment variables
// (docs/format.md §1.1): --store / FASTEN_AUDIT_DSN, --sys-store / FASTEN_SYSLOG_DSN,
// --api-store / FASTEN_API_DSN. Stream stores default to the audit store's SQLite file with
// their default tables (syslog, api_log).
#pragma once

#include "app/cli.h"
#include "store/store_set.h"

namespace fasten {

// Flags understood by ResolveStoreConfig.
inline const FlagSpec kStoreFlags[] = {{"store", true}, {"sys-store", true}, {"api-store", true}};

Status ResolveStoreConfig(const Args& args, const Env& env, StoreConfig* out);

// ResolveStoreConfig, then OpenStoreSet.
Status OpenStoresFromArgs(const Args& args, const Env& env, bool need_streams, StoreSet* out);

}  // namespace fasten
