#include "store/pg_session.h"

#include "store/pg_conn.h"

namespace fasten {

PgSession::PgSession() : conn_(std::make_unique<PgConn>()) {}
PgSession::~PgSession() = default;

Status PgSession::Open(const Dsn& dsn, bool read_only, bool no_timeout,
                       std::unique_ptr<PgSession>* out) {
  if (dsn.kind != Dsn::Kind::kPostgres) {
    return InvalidArgumentError("not a Postgres DSN: " + dsn.Display());
  }
  std::unique_ptr<PgSession> s(new PgSession());
  PgSessionOptions options = PgSessionOptionsFor(dsn);
  options.read_only = read_only;
  if (no_timeout) options.statement_timeout_ms = 0;
  FASTEN_RETURN_IF_ERROR(s->conn_->Open(dsn.conninfo, dsn.Display(), options));
  *out = std::move(s);
  return Status::Ok();
}

Status PgSession::Exec(const std::string& sql) {
  return conn_->Exec(sql);
}

Status PgSession::Query(const std::string& sql,
                        const std::vector<std::optional<std::string>>& params,
                        std::vector<Row>* rows) {
  rows->clear();
  PgResult r;
  FASTEN_RETURN_IF_ERROR(conn_->QueryUnprepared(sql, params, &r));
  if (!r) return Status::Ok();
  for (int i = 0; i < PQntuples(r.get()); ++i) {
    Row row;
    for (int c = 0; c < PQnfields(r.get()); ++c) {
      if (PgIsNull(r.get(), i, c))
        row.emplace_back(std::nullopt);
      else
        row.emplace_back(std::string(PgText(r.get(), i, c)));
    }
    rows->push_back(std::move(row));
  }
  return Status::Ok();
}

bool PgSession::c_collation() const {
  return conn_->c_collation();
}

}  // namespace fasten
