#include "util/handles.h"

#include <openssl/evp.h>
#include <sqlite3.h>
#include <unistd.h>

namespace fasten {

void SqliteCloser::operator()(sqlite3* db) const {
  sqlite3_close_v2(db);
}
void SqliteFinalizer::operator()(sqlite3_stmt* stmt) const {
  sqlite3_finalize(stmt);
}
void EvpMdCtxFree::operator()(evp_md_ctx_st* ctx) const {
  EVP_MD_CTX_free(ctx);
}
UniqueFd::~UniqueFd() {
  if (fd_ >= 0) close(fd_);
}

}  // namespace fasten
