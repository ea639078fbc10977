#include "anchor/tsa.h"

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pkcs7.h>
#include <openssl/ts.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <array>
#include <cctype>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <memory>

#include "util/crypto.h"

namespace fasten::anchor {
namespace {

template <auto Fn>
struct Deleter {
  template <typename T>
  void operator()(T* p) const {
    Fn(p);
  }
};
using TsReq = std::unique_ptr<TS_REQ, Deleter<TS_REQ_free>>;
using TsResp = std::unique_ptr<TS_RESP, Deleter<TS_RESP_free>>;
using TsTstInfo = std::unique_ptr<TS_TST_INFO, Deleter<TS_TST_INFO_free>>;
using TsMsgImprint = std::unique_ptr<TS_MSG_IMPRINT, Deleter<TS_MSG_IMPRINT_free>>;
using TsVerifyCtx = std::unique_ptr<TS_VERIFY_CTX, Deleter<TS_VERIFY_CTX_free>>;
using X509Algor = std::unique_ptr<X509_ALGOR, Deleter<X509_ALGOR_free>>;
using X509Store = std::unique_ptr<X509_STORE, Deleter<X509_STORE_free>>;
using Pkcs7 = std::unique_ptr<PKCS7, Deleter<PKCS7_free>>;
using Asn1Integer = std::unique_ptr<ASN1_INTEGER, Deleter<ASN1_INTEGER_free>>;
using BigNum = std::unique_ptr<BIGNUM, Deleter<BN_free>>;
using Bio = std::unique_ptr<BIO, Deleter<BIO_free>>;
// PKCS7_get0_signers: the stack is ours, the certificates are the token's.
struct X509ListFree {
  void operator()(STACK_OF(X509) * list) const { sk_X509_free(list); }
};
using X509List = std::unique_ptr<STACK_OF(X509), X509ListFree>;

using Digest = std::array<unsigned char, 32>;

// The reasons on OpenSSL's error queue, "; "-joined, and the queue emptied. "" when empty.
std::string TakeOpenSslErrors() {
  std::string out;
  unsigned long e;
  while ((e = ERR_get_error()) != 0) {
    const char* reason = ERR_reason_error_string(e);
    std::string r = reason != nullptr ? reason : "error " + std::to_string(ERR_GET_REASON(e));
    if (out.find(r) != std::string::npos) continue;
    if (!out.empty()) out += "; ";
    out += r;
  }
  return out;
}

std::string WithOpenSsl(std::string message) {
  std::string why = TakeOpenSslErrors();
  if (!why.empty()) message += " (" + why + ")";
  return message;
}

// Clears OpenSSL's thread-local error queue on entry and exit, so no stale reason leaks into
// this call's messages or out of it into another library's.
struct ErrorQueueGuard {
  ErrorQueueGuard() { ERR_clear_error(); }
  ~ErrorQueueGuard() { ERR_clear_error(); }
};

bool Sha256Of(std::string_view data, Digest* out) {
  return Sha256Bytes(data, out->data());
}

// Parses all of `der` (at most kMaxTimestampBytes) with d2i; nullptr when it fails or leaves
// trailing bytes.
template <typename T, typename D2i, typename Free>
T* ParseAll(std::string_view der, D2i d2i, Free free_fn) {
  if (der.empty() || der.size() > kMaxTimestampBytes) return nullptr;
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  const auto* const end = p + der.size();
  T* obj = d2i(nullptr, &p, static_cast<long>(der.size()));
  if (obj != nullptr && p != end) {
    free_fn(obj);  // trailing bytes
    return nullptr;
  }
  return obj;
}

template <typename T, typename I2d>
Result<std::string> ToDer(T* obj, I2d i2d, const char* what) {
  int n = i2d(obj, nullptr);
  if (n <= 0) return InternalError(WithOpenSsl(std::string("cannot encode the ") + what));
  std::string out(static_cast<size_t>(n), '\0');
  auto* p = reinterpret_cast<unsigned char*>(out.data());
  if (i2d(obj, &p) != n)
    return InternalError(WithOpenSsl(std::string("cannot encode the ") + what));
  return out;
}

std::string IntegerHex(const ASN1_INTEGER* v) {
  if (v == nullptr) return "";
  BigNum bn(ASN1_INTEGER_to_BN(v, nullptr));
  if (!bn) return "";
  char* hex = BN_bn2hex(bn.get());
  if (hex == nullptr) return "";
  std::string out = hex;
  OPENSSL_free(hex);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string OidText(const ASN1_OBJECT* obj) {
  if (obj == nullptr) return "";
  char buf[128];
  int n = OBJ_obj2txt(buf, sizeof buf, obj, 1);
  if (n <= 0) return "";
  if (static_cast<size_t>(n) < sizeof buf) return buf;
  std::string big(static_cast<size_t>(n) + 1, '\0');
  if (OBJ_obj2txt(big.data(), n + 1, obj, 1) != n) return "";
  big.resize(static_cast<size_t>(n));
  return big;
}

std::string NameLine(const X509_NAME* name) {
  Bio bio(BIO_new(BIO_s_mem()));
  if (!bio || name == nullptr) return "";
  // One line (control characters escaped), as UTF-8.
  if (X509_NAME_print_ex(bio.get(), name, 0,
                         (XN_FLAG_ONELINE | ASN1_STRFLGS_UTF8_CONVERT) & ~ASN1_STRFLGS_ESC_MSB) <
      0) {
    return "";
  }
  char* p = nullptr;
  long n = BIO_get_mem_data(bio.get(), &p);
  return n > 0 && p != nullptr ? std::string(p, static_cast<size_t>(n)) : "";
}

// The message imprint must be SHA-256 over exactly `want`.
Status CheckImprint(TS_MSG_IMPRINT* imprint, const Digest& want, const char* against) {
  if (imprint == nullptr) return InvalidArgumentError("the timestamp has no message imprint");
  X509_ALGOR* algo = TS_MSG_IMPRINT_get_algo(imprint);
  const ASN1_OBJECT* oid = nullptr;
  if (algo != nullptr) X509_ALGOR_get0(&oid, nullptr, nullptr, algo);
  if (oid == nullptr || OBJ_obj2nid(oid) != NID_sha256) {
    return InvalidArgumentError("the timestamp's message imprint is not SHA-256 (algorithm " +
                                OidText(oid) + ")");
  }
  ASN1_OCTET_STRING* got = TS_MSG_IMPRINT_get_msg(imprint);
  if (got == nullptr || ASN1_STRING_length(got) != static_cast<int>(want.size()) ||
      std::memcmp(ASN1_STRING_get0_data(got), want.data(), want.size()) != 0) {
    return InvalidArgumentError(std::string("message imprint mismatch: the timestamp is over ") +
                                "a different " + against);
  }
  return Status();
}

const char* PkiStatusName(long status) {
  switch (status) {
    case TS_STATUS_GRANTED:
      return "granted";
    case TS_STATUS_GRANTED_WITH_MODS:
      return "grantedWithMods";
    case TS_STATUS_REJECTION:
      return "rejection";
    case TS_STATUS_WAITING:
      return "waiting";
    case TS_STATUS_REVOCATION_WARNING:
      return "revocationWarning";
    case TS_STATUS_REVOCATION_NOTIFICATION:
      return "revocationNotification";
    default:
      return "unknown";
  }
}

// "badAlg, badRequest" from the PKIFailureInfo bits (RFC 3161 §2.4.2).
std::string FailureInfoText(const ASN1_BIT_STRING* bits) {
  if (bits == nullptr) return "";
  static const struct {
    int bit;
    const char* name;
  } kBits[] = {{TS_INFO_BAD_ALG, "badAlg"},
               {TS_INFO_BAD_REQUEST, "badRequest"},
               {TS_INFO_BAD_DATA_FORMAT, "badDataFormat"},
               {TS_INFO_TIME_NOT_AVAILABLE, "timeNotAvailable"},
               {TS_INFO_UNACCEPTED_POLICY, "unacceptedPolicy"},
               {TS_INFO_UNACCEPTED_EXTENSION, "unacceptedExtension"},
               {TS_INFO_ADD_INFO_NOT_AVAILABLE, "addInfoNotAvailable"},
               {TS_INFO_SYSTEM_FAILURE, "systemFailure"}};
  std::string out;
  for (const auto& b : kBits) {
    if (ASN1_BIT_STRING_get_bit(bits, b.bit) == 1) {
      if (!out.empty()) out += ", ";
      out += b.name;
    }
  }
  return out;
}

// The status strings of a PKIStatusInfo, "; "-joined, control characters replaced, bounded.
std::string StatusText(const STACK_OF(ASN1_UTF8STRING) * text) {
  std::string out;
  for (int i = 0; i < sk_ASN1_UTF8STRING_num(text); ++i) {
    const ASN1_UTF8STRING* s = sk_ASN1_UTF8STRING_value(text, i);
    if (s == nullptr) continue;
    if (!out.empty()) out += "; ";
    out.append(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
               static_cast<size_t>(ASN1_STRING_length(s)));
  }
  for (char& c : out) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
  }
  if (out.size() > 200) out = out.substr(0, 200) + "...";
  return out;
}

// GeneralizedTime "YYYYMMDDHHMMSS[.f+]Z" → RFC 3339 and Unix seconds.
Status ReadGenTime(const ASN1_GENERALIZEDTIME* t, TimestampInfo* info) {
  std::tm tm{};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) {
    return InvalidArgumentError("the timestamp's genTime is not a valid time");
  }
  char buf[48];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
  std::string text = buf;
  const std::string raw(reinterpret_cast<const char*>(ASN1_STRING_get0_data(t)),
                        static_cast<size_t>(ASN1_STRING_length(t)));
  if (size_t dot = raw.find('.'); dot != std::string::npos) {
    std::string fraction = ".";
    for (size_t i = dot + 1; i < raw.size() && std::isdigit(static_cast<unsigned char>(raw[i]));
         ++i) {
      fraction += raw[i];
    }
    if (fraction.size() > 1) text += fraction;
  }
  info->gen_time = text + "Z";
  info->gen_time_unix = static_cast<int64_t>(timegm(&tm));
  return Status();
}

}  // namespace

Result<std::string> BuildTimestampRequest(std::string_view data) {
  ErrorQueueGuard guard;
  Digest digest;
  if (!Sha256Of(data, &digest)) return InternalError(WithOpenSsl("SHA-256 failed"));
  TsReq req(TS_REQ_new());
  TsMsgImprint imprint(TS_MSG_IMPRINT_new());
  X509Algor algo(X509_ALGOR_new());
  std::array<unsigned char, 8> nonce_bytes;
  BigNum nonce_bn;
  Asn1Integer nonce;
  bool ok =
      req && imprint && algo && TS_REQ_set_version(req.get(), 1) == 1 &&
      X509_ALGOR_set0(algo.get(), OBJ_nid2obj(NID_sha256), V_ASN1_NULL, nullptr) == 1 &&
      TS_MSG_IMPRINT_set_algo(imprint.get(), algo.get()) == 1 &&
      TS_MSG_IMPRINT_set_msg(imprint.get(), digest.data(), static_cast<int>(digest.size())) == 1 &&
      TS_REQ_set_msg_imprint(req.get(), imprint.get()) == 1 &&
      RandomBytes(nonce_bytes.data(), nonce_bytes.size());
  if (ok) {
    // Positive with its top bit at 62: never zero, and always 8 bytes of INTEGER content (the
    // request's size does not vary).
    nonce_bytes[0] = static_cast<unsigned char>((nonce_bytes[0] & 0x7f) | 0x40);
    nonce_bn.reset(BN_bin2bn(nonce_bytes.data(), static_cast<int>(nonce_bytes.size()), nullptr));
    if (nonce_bn) nonce.reset(BN_to_ASN1_INTEGER(nonce_bn.get(), nullptr));
    ok = nonce && TS_REQ_set_nonce(req.get(), nonce.get()) == 1 &&
         TS_REQ_set_cert_req(req.get(), 1) == 1;
  }
  if (!ok) return InternalError(WithOpenSsl("cannot build the timestamp request"));
  return ToDer(req.get(), i2d_TS_REQ, "timestamp request");
}

Result<std::string> TokenFromResponse(std::string_view response_der, std::string_view request_der) {
  ErrorQueueGuard guard;
  if (response_der.empty()) return InvalidArgumentError("the TSA's response is empty");
  if (response_der.size() > kMaxTimestampBytes) {
    return InvalidArgumentError("the TSA's response is " + std::to_string(response_der.size()) +
                                " bytes, over the limit of " + std::to_string(kMaxTimestampBytes));
  }
  TsReq req(ParseAll<TS_REQ>(request_der, d2i_TS_REQ, TS_REQ_free));
  if (!req)
    return InvalidArgumentError(WithOpenSsl("the timestamp request is not a DER TimeStampReq"));
  TsResp resp(ParseAll<TS_RESP>(response_der, d2i_TS_RESP, TS_RESP_free));
  if (!resp) {
    return InvalidArgumentError(
        WithOpenSsl("the TSA's response is not a DER TimeStampResp (RFC 3161)"));
  }
  TS_STATUS_INFO* status_info = TS_RESP_get_status_info(resp.get());
  const ASN1_INTEGER* status_int =
      status_info != nullptr ? TS_STATUS_INFO_get0_status(status_info) : nullptr;
  if (status_int == nullptr) return InvalidArgumentError("the TSA's response has no status");
  const long status = ASN1_INTEGER_get(status_int);
  if (status != TS_STATUS_GRANTED && status != TS_STATUS_GRANTED_WITH_MODS) {
    std::string msg = "the TSA did not grant the timestamp: status " + std::to_string(status) +
                      " (" + PkiStatusName(status) + ")";
    if (std::string text = StatusText(TS_STATUS_INFO_get0_text(status_info)); !text.empty()) {
      msg += ": " + text;
    }
    if (std::string fail = FailureInfoText(TS_STATUS_INFO_get0_failure_info(status_info));
        !fail.empty()) {
      msg += " [failure: " + fail + "]";
    }
    return FailedPreconditionError(msg);
  }
  PKCS7* token = TS_RESP_get_token(resp.get());
  TS_TST_INFO* tst = TS_RESP_get_tst_info(resp.get());
  if (token == nullptr || tst == nullptr) {
    return InvalidArgumentError("the TSA granted the timestamp but sent no token");
  }
  // Same imprint as asked for.
  TS_MSG_IMPRINT* asked = TS_REQ_get_msg_imprint(req.get());
  TS_MSG_IMPRINT* got = TS_TST_INFO_get_msg_imprint(tst);
  const ASN1_OCTET_STRING* asked_digest =
      asked != nullptr ? TS_MSG_IMPRINT_get_msg(asked) : nullptr;
  const X509_ALGOR* asked_algo = asked != nullptr ? TS_MSG_IMPRINT_get_algo(asked) : nullptr;
  const X509_ALGOR* got_algo = got != nullptr ? TS_MSG_IMPRINT_get_algo(got) : nullptr;
  const ASN1_OCTET_STRING* got_digest = got != nullptr ? TS_MSG_IMPRINT_get_msg(got) : nullptr;
  if (asked_digest == nullptr || got_digest == nullptr || asked_algo == nullptr ||
      got_algo == nullptr) {
    return InvalidArgumentError("the TSA's token or the request has no message imprint");
  }
  const ASN1_OBJECT* asked_oid = nullptr;
  const ASN1_OBJECT* got_oid = nullptr;
  X509_ALGOR_get0(&asked_oid, nullptr, nullptr, asked_algo);
  X509_ALGOR_get0(&got_oid, nullptr, nullptr, got_algo);
  if (asked_oid == nullptr || got_oid == nullptr || OBJ_cmp(asked_oid, got_oid) != 0 ||
      ASN1_STRING_cmp(asked_digest, got_digest) != 0) {
    return InvalidArgumentError(
        "the TSA's token is over a different message imprint than the request");
  }
  // Same nonce.
  const ASN1_INTEGER* asked_nonce = TS_REQ_get_nonce(req.get());
  const ASN1_INTEGER* got_nonce = TS_TST_INFO_get_nonce(tst);
  if (asked_nonce != nullptr &&
      (got_nonce == nullptr || ASN1_INTEGER_cmp(asked_nonce, got_nonce) != 0)) {
    return InvalidArgumentError(
        "the TSA's token does not carry the request's nonce (a reply to another request?)");
  }
  Result<std::string> der = ToDer(token, i2d_PKCS7, "timestamp token");
  if (der.ok() && der->size() > kMaxTimestampBytes) {
    return InvalidArgumentError("the timestamp token is over the limit of " +
                                std::to_string(kMaxTimestampBytes) + " bytes");
  }
  return der;
}

Result<TimestampInfo> VerifyTimestampToken(std::string_view token_der, std::string_view data,
                                           const std::string& ca_file) {
  ErrorQueueGuard guard;
  if (token_der.empty()) return InvalidArgumentError("the timestamp token is empty");
  if (token_der.size() > kMaxTimestampBytes) {
    return InvalidArgumentError("the timestamp token is " + std::to_string(token_der.size()) +
                                " bytes, over the limit of " + std::to_string(kMaxTimestampBytes));
  }
  Pkcs7 token(ParseAll<PKCS7>(token_der, d2i_PKCS7, PKCS7_free));
  if (!token) {
    return InvalidArgumentError(
        WithOpenSsl("the timestamp token is not a DER CMS ContentInfo (RFC 3161 TimeStampToken)"));
  }
  if (!PKCS7_type_is_signed(token.get()) || token->d.sign == nullptr ||
      token->d.sign->contents == nullptr) {
    return InvalidArgumentError("the timestamp token is not CMS SignedData");
  }
  if (sk_PKCS7_SIGNER_INFO_num(token->d.sign->signer_info) != 1) {
    return InvalidArgumentError(
        "the timestamp token must have exactly one signer, not " +
        std::to_string(sk_PKCS7_SIGNER_INFO_num(token->d.sign->signer_info)));
  }
  TsTstInfo tst(PKCS7_to_TS_TST_INFO(token.get()));
  if (!tst) {
    return InvalidArgumentError(
        WithOpenSsl("the timestamp token does not hold a TSTInfo (RFC 3161 §2.4.2)"));
  }
  // The signer: the certificate of the token that the SignerInfo names.
  X509List signers(PKCS7_get0_signers(token.get(), nullptr, 0));
  X509* signer =
      signers && sk_X509_num(signers.get()) == 1 ? sk_X509_value(signers.get(), 0) : nullptr;
  if (signer == nullptr) {
    return InvalidArgumentError(
        WithOpenSsl("the timestamp token does not carry its signer's certificate"));
  }
  // The CMS signature over the TSTInfo, with the token's own certificate (no chain).
  if (PKCS7_verify(token.get(), nullptr, nullptr, nullptr, nullptr, PKCS7_NOVERIFY) != 1) {
    return InvalidArgumentError(
        WithOpenSsl("the timestamp token's signature does not verify (the token was altered)"));
  }
  Digest digest;
  if (!Sha256Of(data, &digest)) return InternalError(WithOpenSsl("SHA-256 failed"));
  FASTEN_RETURN_IF_ERROR(CheckImprint(TS_TST_INFO_get_msg_imprint(tst.get()), digest, "note"));

  TimestampInfo info;
  if (!ca_file.empty()) {
    X509Store store(X509_STORE_new());
    if (!store) return InternalError(WithOpenSsl("X509_STORE_new failed"));
    if (X509_STORE_load_file(store.get(), ca_file.c_str()) != 1) {
      return InvalidArgumentError(WithOpenSsl("cannot load the CA file " + ca_file));
    }
    TsVerifyCtx ctx(TS_VERIFY_CTX_new());
    if (!ctx) return InternalError(WithOpenSsl("TS_VERIFY_CTX_new failed"));
    TS_VERIFY_CTX_set_store(ctx.get(), store.release());  // the context owns it now
    auto* imprint = static_cast<unsigned char*>(OPENSSL_memdup(digest.data(), digest.size()));
    if (imprint == nullptr) return InternalError("out of memory");
    TS_VERIFY_CTX_set_imprint(ctx.get(), imprint, static_cast<long>(digest.size()));  // owned
    TS_VERIFY_CTX_set_flags(ctx.get(),
                            TS_VFY_SIGNATURE | TS_VFY_VERSION | TS_VFY_IMPRINT | TS_VFY_SIGNER);
    if (TS_RESP_verify_token(ctx.get(), token.get()) != 1) {
      return InvalidArgumentError(WithOpenSsl(
          "the timestamp token's signer is not trusted: no valid chain to a certificate of " +
          ca_file + " with the timeStamping extended key usage"));
    }
    info.trusted = true;
  }
  FASTEN_RETURN_IF_ERROR(ReadGenTime(TS_TST_INFO_get_time(tst.get()), &info));
  info.tsa = NameLine(X509_get_subject_name(signer));
  info.serial = IntegerHex(TS_TST_INFO_get_serial(tst.get()));
  info.policy = OidText(TS_TST_INFO_get_policy_id(tst.get()));
  return info;
}

}  // namespace fasten::anchor
