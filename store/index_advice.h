// The extra indexes fasten-mcp's queries want, for the operator command `fasten-mcp index`.
//
// The upstream DDL has only single-column indexes (docs/format.md §2.4); as docs/benchmarks.md
// says, a composite (code, timestamp) index makes code + window pages 4.5-5.6x faster, with
// the tenant first for tenant-bound servers. Every filter the tools offer also gets an index led
// by the tenant, so a tenant-bound query never walks other tenants' index entries (its time would
// tell what they store: docs/security.md); on the stream tables the tenant is the payload's
// (store/payload_tenant.h: the SQLite prefilter expression, or the Postgres function, created
// first). AdviseIndexes lists the recommended indexes for the audit table and the stream tables
// (syslog, api_log) of the store, and which exist already (an index whose leading key columns are
// the recommended ones). It only reads.
//
// ApplyIndexes is the only code path in fasten-mcp that writes to a store, and only the explicit
// operator command calls it: it opens its own writable connection (SQLite read-write; Postgres
// CREATE INDEX CONCURRENTLY, so writers are not blocked) and creates the missing indexes with
// IF NOT EXISTS. The readers stay read-only.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "store/dsn.h"
#include "util/status.h"

namespace fasten {

struct IndexAdvice {
  std::string table;    // as the statement names it (schema.name on Postgres when given)
  std::string name;     // idx_{table}_{suffix}; Postgres: bare table name, "_c" for COLLATE "C"
  std::string columns;  // "(tenant_id, code, timestamp)" as displayed
  std::string why;      // the queries it serves
  std::string ddl;      // the statement that creates it
  bool exists = false;
  std::string existing;  // the index that already covers it (when exists)
  // Led by the tenant (tenant_id, or the payload's tenant on a stream table): without these a
  // tenant can time its queries to learn what other tenants store (docs/security.md).
  bool tenant_leading = false;
  // A statement ApplyIndexes runs first (once), e.g. creating the Postgres payload-tenant
  // function the index is built on; empty when there is none.
  std::string setup_ddl;
};

struct IndexReport {
  std::string backend;  // "sqlite" or "postgres"
  std::vector<IndexAdvice> advice;
  std::vector<std::string> notes;  // e.g. "stream table 'api_log' not found: skipped"
};

// Reads the catalog of the store named by `dsn` (audit table: ?table= or audit_log, then
// fasten_audit; stream tables syslog and api_log in the same database, when present).
Status AdviseIndexes(const Dsn& dsn, IndexReport* out);

// Creates each index of `missing` (entries with exists set are skipped), reporting each outcome
// through `on_done`. Returns the first error (after trying the rest).
Status ApplyIndexes(const Dsn& dsn, const std::vector<IndexAdvice>& missing,
                    const std::function<void(const IndexAdvice&, const Status&)>& on_done);

}  // namespace fasten
