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

Status ResolveStoreConfig(const Args& args, const Env& env, StoreConfig* out) {
  std::optional<std::string> text = args.Get("store");
  if (!text) text = env.Get("FASTEN_AUDIT_DSN");
  if (!text) {
    return InvalidArgumentError(
        "no store given: pass --store DSN (e.g. --store sqlite:///demo.db) or set "
        "FASTEN_AUDIT_DSN");
  }
  Result<Dsn> audit = ParseDsn(*text);
  if (!audit.ok()) return audit.status();
  out->audit = *audit;
  FASTEN_RETURN_IF_ERROR(
      StreamDsn(args, env, "sys-store", "FASTEN_SYSLOG_DSN", out->audit, &out->sys));
  return StreamDsn(args, env, "api-store", "FASTEN_API_DSN", out->audit, &out->api);
}

Status OpenStoresFromArgs(const Args& args, const Env& env, bool need_streams, StoreSet* out) {
  StoreConfig config;
  FASTEN_RETURN_IF_ERROR(ResolveStoreConfig(args, env, &config));
  return OpenStoreSet(config, need_streams, out);
}

}  // namespace fasten
