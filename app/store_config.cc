#include "app/store_config.h"

namespace fasten {
namespace {

Status StreamDsn(const Args& args, const Env& env, const char* flag, const char* var,
                 const Dsn& audit, Dsn* out) {
  std::optional<std::string> text = args.Get(flag);
  if (!text) text = env.Get(var);
  if (text) {
    Result<Dsn> d = ParseDsn(*text);
    if (!d.ok()) return d.status().WithContext(std::string("--") + flag);
    *out = *d;
    return Status::Ok();
  }
  *out = audit;
  out->table.reset();  // the stream's default table in the same database
  return Status::Ok();
}

}  // namespace

Status OpenStoresFromArgs(const Args& args, const Env& env, bool need_streams, OpenStores* out) {
  std::optional<std::string> text = args.Get("store");
  if (!text) text = env.Get("FASTEN_AUDIT_DSN");
  if (!text) {
    return InvalidArgumentError(
        "no store given: pass --store DSN (e.g. --store sqlite:///demo.db) or set "
        "FASTEN_AUDIT_DSN");
  }
  Result<Dsn> audit = ParseDsn(*text);
  if (!audit.ok()) return audit.status();
  FASTEN_RETURN_IF_ERROR(AuditReader::Open(*audit, &out->audit));
  if (!need_streams) return Status::Ok();
  auto open_stream = [&](const char* flag, const char* var, StreamKind kind,
                         std::unique_ptr<StreamReader>* reader, std::string* why) -> Status {
    Dsn d;
    FASTEN_RETURN_IF_ERROR(StreamDsn(args, env, flag, var, *audit, &d));
    Status st = StreamReader::Open(d, kind, reader);
    if (!st.ok()) {
      if (st.code() != StatusCode::kNotFound) return st;
      *why = st.message();
    }
    return Status::Ok();
  };
  FASTEN_RETURN_IF_ERROR(open_stream("sys-store", "FASTEN_SYSLOG_DSN", StreamKind::kSys, &out->sys,
                                     &out->sys_missing_why));
  FASTEN_RETURN_IF_ERROR(open_stream("api-store", "FASTEN_API_DSN", StreamKind::kApi, &out->api,
                                     &out->api_missing_why));
  return Status::Ok();
}

}  // namespace fasten
