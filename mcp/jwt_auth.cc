#include "mcp/jwt_auth.h"

#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>

#include "util/base64.h"
#include "util/crypto.h"
#include "util/handles.h"
#include "util/json_parse.h"

namespace fasten::mcp {
namespace {

using nlohmann::json;

using Pkey = EvpPkey;  // util/handles.h

std::string Errno(const std::string& what, const std::string& path) {
  return what + " " + path + ": " + std::strerror(errno);
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// JwtAuthenticator.

struct JwtAuthenticator::Key {
  std::string secret;  // HS256
  Pkey pkey;           // RS256, ES256
};

namespace {

const char* AlgName(JwtOptions::Algorithm a) {
  switch (a) {
    case JwtOptions::Algorithm::kHs256:
      return "HS256";
    case JwtOptions::Algorithm::kRs256:
      return "RS256";
    case JwtOptions::Algorithm::kEs256:
      return "ES256";
  }
  return "?";
}

bool IsP256(EVP_PKEY* pkey) {
  char name[64];
  size_t len = 0;
  if (EVP_PKEY_get_group_name(pkey, name, sizeof name, &len) != 1) return false;
  int nid = OBJ_sn2nid(name);
  if (nid == NID_undef) nid = EC_curve_nist2nid(name);
  return nid == NID_X9_62_prime256v1;
}

// The last second of 9999: the largest NumericDate accepted.
constexpr int64_t kMaxNumericDate = 253402300799;

enum class DateClaim { kAbsent, kMalformed, kOk };

// A NumericDate claim (RFC 7519 §2), held to whole seconds from 0 to kMaxNumericDate: floats
// (1e300, 1.5), integers out of range (2^70, negative) and other types are malformed.
DateClaim NumericDate(const json& claims, const char* name, int64_t* out) {
  auto it = claims.find(name);
  if (it == claims.end()) return DateClaim::kAbsent;
  if (it->is_number_unsigned()) {
    const uint64_t v = it->get<uint64_t>();
    if (v > static_cast<uint64_t>(kMaxNumericDate)) return DateClaim::kMalformed;
    *out = static_cast<int64_t>(v);
    return DateClaim::kOk;
  }
  if (it->is_number_integer()) {  // signed: nlohmann keeps non-negative integers unsigned
    const int64_t v = it->get<int64_t>();
    if (v < 0 || v > kMaxNumericDate) return DateClaim::kMalformed;
    *out = v;
    return DateClaim::kOk;
  }
  return DateClaim::kMalformed;
}

}  // namespace

JwtAuthenticator::JwtAuthenticator(JwtOptions options, std::unique_ptr<Key> key)
    : options_(std::move(options)), key_(std::move(key)) {}

JwtAuthenticator::~JwtAuthenticator() {
  if (!key_->secret.empty()) OPENSSL_cleanse(key_->secret.data(), key_->secret.size());
}

Status JwtAuthenticator::Load(const JwtOptions& options, std::unique_ptr<JwtAuthenticator>* out) {
  UniqueFd fd(open(options.key_file.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    return InvalidArgumentError(Errno("cannot open JWT key file", options.key_file));
  }
  std::string key;
  char buf[4096];
  for (;;) {
    ssize_t n = read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return UnavailableError(Errno("cannot read", options.key_file));
    if (n == 0) break;
    key.append(buf, static_cast<size_t>(n));
    if (key.size() > (1 << 20)) return InvalidArgumentError(options.key_file + " is too large");
  }
  OPENSSL_cleanse(buf, sizeof buf);
  if (options.algorithm == JwtOptions::Algorithm::kHs256) {
    if (!key.empty() && key.back() == '\n') key.pop_back();
    if (!key.empty() && key.back() == '\r') key.pop_back();
  }
  Status st = Create(options, key, out);
  OPENSSL_cleanse(key.data(), key.size());
  return st.ok() ? st : st.WithContext(options.key_file);
}

Status JwtAuthenticator::Create(const JwtOptions& options, std::string_view key,
                                std::unique_ptr<JwtAuthenticator>* out) {
  if (options.audiences.empty()) {
    return InvalidArgumentError("JWT: configure at least one accepted audience");
  }
  for (const std::string& aud : options.audiences) {
    if (aud.empty()) return InvalidArgumentError("JWT: an accepted audience is empty");
  }
  if (options.tenant_claim.empty()) return InvalidArgumentError("JWT: the tenant claim is empty");
  if (options.max_lifetime.count() < 0) {
    return InvalidArgumentError("JWT: the maximum lifetime is negative");
  }
  auto k = std::make_unique<Key>();
  if (options.algorithm == JwtOptions::Algorithm::kHs256) {
    if (key.size() < 32) {
      return InvalidArgumentError("JWT HS256: the shared secret must be at least 32 bytes");
    }
    // The classic confusion: a public key configured as an HMAC secret lets anyone who has the
    // public key mint tokens.
    if (key.find("-----BEGIN") != std::string_view::npos) {
      return InvalidArgumentError("JWT HS256: the secret looks like a PEM key; use RS256 or ES256");
    }
    k->secret = std::string(key);
  } else {
    Bio bio(BIO_new_mem_buf(key.data(), static_cast<int>(key.size())));
    if (!bio) return InternalError("BIO_new_mem_buf failed");
    k->pkey.reset(PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
    if (!k->pkey) {
      return InvalidArgumentError(std::string("JWT ") + AlgName(options.algorithm) +
                                  ": expected a PEM public key (BEGIN PUBLIC KEY)");
    }
    if (options.algorithm == JwtOptions::Algorithm::kRs256) {
      if (!EVP_PKEY_is_a(k->pkey.get(), "RSA") || EVP_PKEY_get_bits(k->pkey.get()) < 2048) {
        return InvalidArgumentError("JWT RS256: the key must be an RSA key of at least 2048 bits");
      }
    } else if (!EVP_PKEY_is_a(k->pkey.get(), "EC") || !IsP256(k->pkey.get())) {
      return InvalidArgumentError("JWT ES256: the key must be an EC key on P-256");
    }
  }
  out->reset(new JwtAuthenticator(options, std::move(k)));
  return Status::Ok();
}

bool JwtAuthenticator::VerifySignature(std::string_view signing_input,
                                       std::string_view signature) const {
  const auto* data = reinterpret_cast<const unsigned char*>(signing_input.data());
  const auto* sig = reinterpret_cast<const unsigned char*>(signature.data());
  if (options_.algorithm == JwtOptions::Algorithm::kHs256) {
    unsigned char mac[kSha256Bytes];
    if (!HmacSha256(key_->secret, signing_input, mac)) return false;
    return signature.size() == kSha256Bytes && ConstantTimeEqual(mac, sig, kSha256Bytes);
  }
  std::string der;
  if (options_.algorithm == JwtOptions::Algorithm::kEs256) {
    // JWS carries R || S (32 bytes each); EVP wants a DER ECDSA-Sig-Value.
    if (signature.size() != 64) return false;
    EcdsaSig es(ECDSA_SIG_new());
    BIGNUM* r = BN_bin2bn(sig, 32, nullptr);
    BIGNUM* s = BN_bin2bn(sig + 32, 32, nullptr);
    if (!es || !r || !s || ECDSA_SIG_set0(es.get(), r, s) != 1) {
      BN_free(r);
      BN_free(s);
      return false;
    }
    int len = i2d_ECDSA_SIG(es.get(), nullptr);
    if (len <= 0) return false;
    der.resize(static_cast<size_t>(len));
    auto* p = reinterpret_cast<unsigned char*>(der.data());
    if (i2d_ECDSA_SIG(es.get(), &p) != len) return false;
    sig = reinterpret_cast<const unsigned char*>(der.data());
    signature = der;
  } else if (signature.size() != static_cast<size_t>(EVP_PKEY_get_size(key_->pkey.get()))) {
    return false;
  }
  EvpMdCtx ctx(EVP_MD_CTX_new());
  if (!ctx) return false;
  if (EVP_DigestVerifyInit(ctx.get(), nullptr, Sha256Md(), nullptr, key_->pkey.get()) != 1) {
    return false;
  }
  return EVP_DigestVerify(ctx.get(), sig, signature.size(), data, signing_input.size()) == 1;
}

std::optional<Principal> JwtAuthenticator::Authenticate(std::string_view authorization,
                                                        std::string* why) const {
  std::string_view token;
  if (!ExtractBearerToken(authorization, &token, why)) return std::nullopt;
  auto fail = [&](std::string reason) {
    *why = std::move(reason);
    return std::nullopt;
  };
  size_t dot1 = token.find('.');
  size_t dot2 = dot1 == std::string_view::npos ? dot1 : token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos) {
    return fail("malformed JWT");
  }
  std::optional<std::string> header_bytes = Base64UrlDecode(token.substr(0, dot1));
  std::optional<std::string> payload_bytes =
      Base64UrlDecode(token.substr(dot1 + 1, dot2 - dot1 - 1));
  std::optional<std::string> signature = Base64UrlDecode(token.substr(dot2 + 1));
  if (!header_bytes || !payload_bytes || !signature) return fail("malformed JWT");
  // The token is at most 8192 characters, so each part is small; its depth is held low as well.
  constexpr JsonLimits kJwtPartLimits{kMaxBearerTokenLength, 8};
  json header;
  if (!ParseJson(*header_bytes, kJwtPartLimits, &header).ok() || !header.is_object()) {
    return fail("malformed JWT");
  }
  auto alg = header.find("alg");
  if (alg == header.end() || !alg->is_string() ||
      alg->get<std::string>() != AlgName(options_.algorithm)) {
    return fail("JWT algorithm not accepted");
  }
  if (header.contains("crit")) return fail("JWT crit header not supported");
  if (!VerifySignature(token.substr(0, dot2), *signature)) return fail("bad JWT signature");

  json claims;
  if (!ParseJson(*payload_bytes, kJwtPartLimits, &claims).ok() || !claims.is_object()) {
    return fail("malformed JWT");
  }
  std::chrono::system_clock::time_point now_tp =
      options_.clock ? options_.clock() : std::chrono::system_clock::now();
  const int64_t now =
      std::chrono::duration_cast<std::chrono::seconds>(now_tp.time_since_epoch()).count();
  const int64_t leeway = options_.leeway.count();
  int64_t exp = 0, nbf = 0, iat = 0;
  const DateClaim has_exp = NumericDate(claims, "exp", &exp);
  const DateClaim has_nbf = NumericDate(claims, "nbf", &nbf);
  const DateClaim has_iat = NumericDate(claims, "iat", &iat);
  if (has_exp == DateClaim::kAbsent) return fail("JWT has no exp");
  if (has_exp == DateClaim::kMalformed) {
    return fail("malformed JWT: exp is not a date (whole seconds, 0 to 253402300799)");
  }
  if (has_nbf == DateClaim::kMalformed) {
    return fail("malformed JWT: nbf is not a date (whole seconds, 0 to 253402300799)");
  }
  if (has_iat == DateClaim::kMalformed) {
    return fail("malformed JWT: iat is not a date (whole seconds, 0 to 253402300799)");
  }
  // Every date is at most kMaxNumericDate and leeway is small: no sum below overflows.
  if (now >= exp + leeway) return fail("token expired");
  if (has_nbf == DateClaim::kOk && now + leeway < nbf) return fail("token not yet valid");
  if (has_iat == DateClaim::kOk && now + leeway < iat) return fail("token not yet valid");
  if (options_.max_lifetime.count() > 0 &&
      exp - (has_iat == DateClaim::kOk ? iat : now) > options_.max_lifetime.count()) {
    return fail("JWT lifetime over the server's maximum (" +
                std::to_string(options_.max_lifetime.count()) + " s)");
  }
  bool aud_ok = false;
  auto aud = claims.find("aud");
  if (aud != claims.end()) {
    auto accepted = [&](const json& v) {
      if (!v.is_string()) return false;
      const std::string& s = v.get_ref<const std::string&>();
      for (const std::string& a : options_.audiences) {
        if (s == a) return true;
      }
      return false;
    };
    if (aud->is_array()) {
      for (const json& v : *aud) aud_ok = aud_ok || accepted(v);
    } else {
      aud_ok = accepted(*aud);
    }
  }
  if (!aud_ok) return fail("JWT audience mismatch");
  if (options_.issuer) {
    auto iss = claims.find("iss");
    if (iss == claims.end() || !iss->is_string() || iss->get<std::string>() != *options_.issuer) {
      return fail("JWT issuer mismatch");
    }
  }
  auto tenant = claims.find(options_.tenant_claim);
  if (tenant == claims.end() || !tenant->is_string()) return fail("JWT missing tenant claim");
  Principal p;
  p.tenant = tenant->get<std::string>();
  if (!ValidateTokenName("tenant", p.tenant).ok()) return fail("JWT tenant claim invalid");
  p.token_label = "jwt";
  auto sub = claims.find("sub");
  if (sub != claims.end() && sub->is_string() &&
      ValidateTokenName("sub", sub->get_ref<const std::string&>()).ok()) {
    p.token_label += ":" + sub->get<std::string>();
  }
  return p;
}

}  // namespace fasten::mcp
