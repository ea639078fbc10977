// Postgres backend of AuditReader and StreamReader (docs/format.md §1-§2, §4).
//
// AuditReader::Open and StreamReader::Open call these for postgres:// DSNs; callers use the
// abstract interfaces in reader.h and never see a libpq type.
//
// Same semantics as the SQLite backend, with these Postgres specifics:
//  - The table name is interpolated unquoted (Postgres folds it to lower case, as the writer's
//    DDL did) and may carry one schema prefix; its columns and their declared types come from
//    information_schema.columns.
//  - TIMESTAMPTZ `timestamp` / `shipped_at` columns are read as the canonical wire spelling
//    YYYY-MM-DDTHH:MM:SS.ffffffZ of the stored instant (rows get from_timestamptz, which enables
//    the labelled pg-us-rounding fallback); TEXT columns are read exactly as stored. Text
//    timestamps are compared and ordered COLLATE "C" (byte order, like SQLite), whatever the
//    database's collation.
//  - Free-text search is ILIKE ... ESCAPE '\'. The stream tenant filter is decided for each row
//    (and each counted row) by the rule of store/payload_tenant.h, as in SQLite; SQL only
//    prefilters: with fasten_payload_tenant(payload) = $n when `fasten-mcp index --apply` has
//    created that function (detected at open; its expression indexes then serve the query),
//    else with strpos and a regular expression that admits every JSON spelling of the tenant.
//  - Scans stream through a server-side cursor (FETCH 10000) inside a read-only transaction;
//    list queries fetch in growing LIMIT batches. Memory stays constant in the table size.
//  - One persistent connection per reader, prepared statements, a statement_timeout (DSN
//    parameter statement_timeout, default 30 s); SetInterrupt cancels the running statement.
#pragma once

#include <memory>

#include "store/reader.h"

namespace fasten {

// REQUIRES: dsn.kind == Dsn::Kind::kPostgres.
Status OpenPostgresAuditReader(const Dsn& dsn, std::unique_ptr<AuditReader>* out);
Status OpenPostgresStreamReader(const Dsn& dsn, StreamKind kind,
                                std::unique_ptr<StreamReader>* out);

}  // namespace fasten
