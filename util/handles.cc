#include "util/handles.h"

#include <openssl/bio.h>
#include <openssl/ec.h>
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
void EvpPkeyFree::operator()(evp_pkey_st* key) const {
  EVP_PKEY_free(key);
}
void EvpPkeyCtxFree::operator()(evp_pkey_ctx_st* ctx) const {
  EVP_PKEY_CTX_free(ctx);
}
void BioFree::operator()(bio_st* bio) const {
  BIO_free(bio);
}
void EcdsaSigFree::operator()(ECDSA_SIG_st* sig) const {
  ECDSA_SIG_free(sig);
}
UniqueFd::~UniqueFd() {
  if (fd_ >= 0) close(fd_);
}

}  // namespace fasten
