#include "store/store_set.h"

namespace fasten {

void StoreSet::SetInterrupt(const std::atomic<bool>* flag) {
  if (audit) audit->SetInterrupt(flag);
  if (sys) sys->SetInterrupt(flag);
  if (api) api->SetInterrupt(flag);
}

Status OpenStoreSet(const StoreConfig& config, bool need_streams, StoreSet* out) {
  FASTEN_RETURN_IF_ERROR(AuditReader::Open(config.audit, &out->audit));
  if (!need_streams) return Status::Ok();
  auto open = [](const Dsn& dsn, StreamKind kind, std::unique_ptr<StreamReader>* reader,
                 std::string* why) -> Status {
    Status st = StreamReader::Open(dsn, kind, reader);
    if (st.ok()) return st;
    if (st.code() != StatusCode::kNotFound) return st;
    *why = st.message();
    return Status::Ok();
  };
  FASTEN_RETURN_IF_ERROR(open(config.sys, StreamKind::kSys, &out->sys, &out->sys_missing_why));
  FASTEN_RETURN_IF_ERROR(open(config.api, StreamKind::kApi, &out->api, &out->api_missing_why));
  return Status::Ok();
}

}  // namespace fasten
