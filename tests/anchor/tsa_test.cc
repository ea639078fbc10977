// RFC 3161 timestamps (anchor/tsa.h, llm/timestamp_client.h) against a local TSA the test
// starts: tests/fakes/fake_tsa.py, which makes a throwaway CA and TSA certificate and answers
// with OpenSSL's own `openssl ts -reply`. Tokens are obtained over HTTP, verified with and without
// the CA, and a modified note, altered tokens, a foreign CA, rejections and garbage are refused.
#include "anchor/tsa.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pkcs7.h>
#include <openssl/ts.h>
#include <openssl/x509.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <regex>
#include <string>
#include <vector>

#include "llm/http_client.h"
#include "llm/timestamp_client.h"

extern char** environ;

namespace fasten::anchor {
namespace {

std::string Sha256(std::string_view data) {
  unsigned char md[32];
  unsigned int n = 0;
  EVP_Digest(data.data(), data.size(), md, &n, EVP_sha256(), nullptr);
  return std::string(reinterpret_cast<char*>(md), n);
}

// Runs fake_tsa.py with `args`; returns its pid and, when `out` is given, its stdout's read end.
pid_t Spawn(std::vector<std::string> args, FILE** out) {
  int fds[2] = {-1, -1};
  if (out != nullptr && pipe(fds) != 0) return -1;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (out != nullptr) {
    posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
    posix_spawn_file_actions_addclose(&actions, fds[0]);
  }
  args.insert(args.begin(), {FASTEN_PYTHON, FASTEN_FAKE_TSA});
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = -1;
  int rc = posix_spawn(&pid, FASTEN_PYTHON, &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (out != nullptr) {
    close(fds[1]);
    *out = rc == 0 ? fdopen(fds[0], "r") : nullptr;
    if (rc != 0) close(fds[0]);
  }
  return rc == 0 ? pid : -1;
}

// A second, unrelated PKI (fake_tsa.py --pki-only): its ca.crt must not vouch for the TSA.
bool MakePki(const std::string& dir) {
  pid_t pid = Spawn({"--dir", dir, "--pki-only"}, nullptr);
  int status = 0;
  return pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
         WEXITSTATUS(status) == 0;
}

class TsaFake : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    char tmpl[] = "/tmp/fasten_fake_tsa_XXXXXX";
    dir_ = new std::string(mkdtemp(tmpl));
    pid_ = Spawn({"--dir", *dir_ + "/pki", "--port", "0"}, &out_);
    char line[256] = {0};
    if (out_ != nullptr && std::fgets(line, sizeof line, out_) != nullptr) {
      std::string s = line;
      if (s.rfind("listening on http://127.0.0.1:", 0) == 0) {
        port_ = std::atoi(s.c_str() + s.rfind(':') + 1);
      }
    }
  }
  static void TearDownTestSuite() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      int status = 0;
      waitpid(pid_, &status, 0);
    }
    if (out_ != nullptr) std::fclose(out_);
    std::filesystem::remove_all(*dir_);
    delete dir_;
  }
  void SetUp() override { ASSERT_GT(port_, 0) << "fake_tsa.py did not start"; }

  static std::string Url(const std::string& mode) {
    return "http://127.0.0.1:" + std::to_string(port_) + "/" + mode;
  }
  static std::string Ca() { return *dir_ + "/pki/ca.crt"; }
  static std::string Dir() { return *dir_; }

  // The raw DER reply to `request` (HttpClient::Send, no checks).
  static std::string RawReply(const std::string& request) {
    llm::ProviderConfig config;
    llm::HttpClient client(config);
    llm::HttpRequest http{Url("tsa"), {"Content-Type: application/timestamp-query"}, request};
    bool retryable = false;
    Result<llm::HttpResponse> r = client.Send(http, 20000, &retryable);
    return r.ok() && r->status == 200 ? r->body : "";
  }

  static std::string* dir_;
  static pid_t pid_;
  static FILE* out_;
  static int port_;
};
std::string* TsaFake::dir_ = nullptr;
pid_t TsaFake::pid_ = -1;
FILE* TsaFake::out_ = nullptr;
int TsaFake::port_ = 0;

const std::string kNote = "fasten.example/log\n42\nq7hK3mZ1pXv8sL0dW2yN5cR9tB4aF6eJ1gH3iK5lM7o=\n";

TEST(TsaRequest, ImprintIsSha256OfTheDataAndTheCertificateIsAskedFor) {
  Result<std::string> der = BuildTimestampRequest(kNote);
  ASSERT_TRUE(der.ok()) << der.status().message();
  const auto* p = reinterpret_cast<const unsigned char*>(der->data());
  TS_REQ* req = d2i_TS_REQ(nullptr, &p, static_cast<long>(der->size()));
  ASSERT_NE(req, nullptr);
  EXPECT_EQ(p, reinterpret_cast<const unsigned char*>(der->data()) + der->size());
  EXPECT_EQ(TS_REQ_get_version(req), 1);
  EXPECT_EQ(TS_REQ_get_cert_req(req), 1);
  TS_MSG_IMPRINT* imprint = TS_REQ_get_msg_imprint(req);
  const ASN1_OBJECT* oid = nullptr;
  X509_ALGOR_get0(&oid, nullptr, nullptr, TS_MSG_IMPRINT_get_algo(imprint));
  EXPECT_EQ(OBJ_obj2nid(oid), NID_sha256);
  ASN1_OCTET_STRING* msg = TS_MSG_IMPRINT_get_msg(imprint);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(msg)),
                        static_cast<size_t>(ASN1_STRING_length(msg))),
            Sha256(kNote));
  const ASN1_INTEGER* nonce = TS_REQ_get_nonce(req);
  ASSERT_NE(nonce, nullptr);
  EXPECT_GT(ASN1_STRING_length(nonce), 4);
  EXPECT_EQ(TS_REQ_get_policy_id(req), nullptr);
  TS_REQ_free(req);

  // A fresh nonce each time; the same imprint.
  Result<std::string> again = BuildTimestampRequest(kNote);
  ASSERT_TRUE(again.ok());
  EXPECT_NE(*der, *again);
  EXPECT_EQ(der->size(), again->size());
  EXPECT_TRUE(BuildTimestampRequest("").ok());
}

TEST(TsaRequest, GarbageAndOversizedInputsAreClearErrors) {
  Result<std::string> req = BuildTimestampRequest(kNote);
  ASSERT_TRUE(req.ok());
  Result<std::string> r = TokenFromResponse("", *req);
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("empty"), std::string::npos);
  r = TokenFromResponse("not DER at all", *req);
  EXPECT_NE(r.status().message().find("not a DER TimeStampResp"), std::string::npos)
      << r.status().message();
  r = TokenFromResponse(std::string(kMaxTimestampBytes + 1, '\x30'), *req);
  EXPECT_NE(r.status().message().find("over the limit"), std::string::npos);
  r = TokenFromResponse("\x30\x03\x02\x01\x00", "junk");
  EXPECT_NE(r.status().message().find("request is not a DER TimeStampReq"), std::string::npos);

  Result<TimestampInfo> v = VerifyTimestampToken("", kNote, "");
  EXPECT_EQ(v.status().code(), StatusCode::kInvalidArgument);
  v = VerifyTimestampToken(std::string("\x30\x80\x00\x00", 4), kNote, "");
  EXPECT_FALSE(v.ok());
  v = VerifyTimestampToken(*req, kNote, "");  // a request is not a token
  EXPECT_NE(v.status().message().find("not a DER CMS ContentInfo"), std::string::npos)
      << v.status().message();
  v = VerifyTimestampToken(std::string(kMaxTimestampBytes + 1, '\x30'), kNote, "");
  EXPECT_NE(v.status().message().find("over the limit"), std::string::npos);
}

TEST_F(TsaFake, TokenObtainedAndVerifiedWithTheCa) {
  Result<std::string> token = llm::RequestTimestamp(Url("tsa"), kNote, 20000);
  ASSERT_TRUE(token.ok()) << token.status().message();
  EXPECT_LE(token->size(), kMaxTimestampBytes);
  Result<TimestampInfo> info = VerifyTimestampToken(*token, kNote, Ca());
  ASSERT_TRUE(info.ok()) << info.status().message();
  EXPECT_TRUE(info->trusted);
  const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  EXPECT_LT(std::llabs(info->gen_time_unix - now), 300);
  EXPECT_TRUE(
      std::regex_match(info->gen_time, std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z)")))
      << info->gen_time;
  EXPECT_NE(info->tsa.find("fasten test TSA"), std::string::npos) << info->tsa;
  EXPECT_EQ(info->policy, "1.3.6.1.4.1.99999.1.1");
  EXPECT_FALSE(info->serial.empty());
  EXPECT_EQ(info->serial.find_first_not_of("0123456789abcdef"), std::string::npos) << info->serial;
}

TEST_F(TsaFake, WithoutACaTheSignatureIsCheckedButNotTrusted) {
  Result<std::string> token = llm::RequestTimestamp(Url("tsa"), kNote, 20000);
  ASSERT_TRUE(token.ok()) << token.status().message();
  Result<TimestampInfo> info = VerifyTimestampToken(*token, kNote, "");
  ASSERT_TRUE(info.ok()) << info.status().message();
  EXPECT_FALSE(info->trusted);
  EXPECT_NE(info->tsa.find("fasten test TSA"), std::string::npos);
  EXPECT_GT(info->gen_time_unix, 0);
}

TEST_F(TsaFake, AModifiedNoteIsAnImprintMismatch) {
  Result<std::string> token = llm::RequestTimestamp(Url("tsa"), kNote, 20000);
  ASSERT_TRUE(token.ok()) << token.status().message();
  std::string other = kNote;
  other[other.size() - 3] ^= 1;
  for (const std::string& ca : {Ca(), std::string()}) {
    Result<TimestampInfo> info = VerifyTimestampToken(*token, other, ca);
    EXPECT_EQ(info.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(info.status().message().find("imprint mismatch"), std::string::npos)
        << info.status().message();
    EXPECT_FALSE(VerifyTimestampToken(*token, kNote + "x", ca).ok());
    EXPECT_FALSE(VerifyTimestampToken(*token, "", ca).ok());
  }
}

TEST_F(TsaFake, AFlippedByteInTheTstInfoOrTheSignatureIsDetected) {
  Result<std::string> token = llm::RequestTimestamp(Url("tsa"), kNote, 20000);
  ASSERT_TRUE(token.ok()) << token.status().message();
  // Where the signed TSTInfo sits in the token.
  const auto* p = reinterpret_cast<const unsigned char*>(token->data());
  PKCS7* p7 = d2i_PKCS7(nullptr, &p, static_cast<long>(token->size()));
  ASSERT_NE(p7, nullptr);
  TS_TST_INFO* tst = PKCS7_to_TS_TST_INFO(p7);
  ASSERT_NE(tst, nullptr);
  unsigned char* tst_der = nullptr;
  int tst_len = i2d_TS_TST_INFO(tst, &tst_der);
  ASSERT_GT(tst_len, 0);
  const size_t at =
      token->find(std::string(reinterpret_cast<char*>(tst_der), static_cast<size_t>(tst_len)));
  OPENSSL_free(tst_der);
  TS_TST_INFO_free(tst);
  PKCS7_free(p7);
  ASSERT_NE(at, std::string::npos);

  std::vector<size_t> positions;
  for (int i = 0; i < 12; ++i) positions.push_back(at + static_cast<size_t>(tst_len) * i / 12);
  positions.push_back(at + static_cast<size_t>(tst_len) - 1);
  const std::string digest = Sha256(kNote);
  positions.push_back(token->find(digest, at) + 7);  // the imprint
  for (size_t back = 1; back <= 6; ++back) positions.push_back(token->size() - back);  // signature
  for (size_t pos : positions) {
    ASSERT_LT(pos, token->size());
    for (const std::string& ca : {Ca(), std::string()}) {
      std::string bad = *token;
      bad[pos] = static_cast<char>(bad[pos] ^ 0x01);
      Result<TimestampInfo> info = VerifyTimestampToken(bad, kNote, ca);
      EXPECT_FALSE(info.ok()) << "byte " << pos << " of " << token->size()
                              << (ca.empty() ? " (no CA)" : " (CA)");
      if (!info.ok()) {
        EXPECT_EQ(info.status().code(), StatusCode::kInvalidArgument);
      }
    }
  }
  // Cut short, or with bytes after it.
  EXPECT_FALSE(VerifyTimestampToken(token->substr(0, token->size() - 1), kNote, "").ok());
  EXPECT_FALSE(VerifyTimestampToken(*token + '\0', kNote, "").ok());
}

TEST_F(TsaFake, AnotherCaDoesNotVouchForTheTsa) {
  const std::string other = Dir() + "/other";
  ASSERT_TRUE(MakePki(other));
  Result<std::string> token = llm::RequestTimestamp(Url("tsa"), kNote, 20000);
  ASSERT_TRUE(token.ok()) << token.status().message();
  Result<TimestampInfo> info = VerifyTimestampToken(*token, kNote, other + "/ca.crt");
  EXPECT_EQ(info.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(info.status().message().find("not trusted"), std::string::npos)
      << info.status().message();
  // The other PKI's TSA certificate is not a CA either.
  info = VerifyTimestampToken(*token, kNote, other + "/tsa.crt");
  EXPECT_FALSE(info.ok());
  info = VerifyTimestampToken(*token, kNote, Dir() + "/no-such-ca.pem");
  EXPECT_NE(info.status().message().find("cannot load the CA file"), std::string::npos)
      << info.status().message();
}

TEST_F(TsaFake, AReplyToAnotherRequestIsRefused) {
  Result<std::string> first = BuildTimestampRequest(kNote);
  Result<std::string> second = BuildTimestampRequest(kNote);
  Result<std::string> other_note = BuildTimestampRequest(kNote + "!");
  ASSERT_TRUE(first.ok() && second.ok() && other_note.ok());
  const std::string reply = RawReply(*first);
  ASSERT_FALSE(reply.empty());
  Result<std::string> token = TokenFromResponse(reply, *first);
  ASSERT_TRUE(token.ok()) << token.status().message();
  EXPECT_TRUE(VerifyTimestampToken(*token, kNote, Ca()).ok());

  Result<std::string> r = TokenFromResponse(reply, *second);
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("nonce"), std::string::npos) << r.status().message();
  r = TokenFromResponse(reply, *other_note);
  EXPECT_NE(r.status().message().find("different message imprint"), std::string::npos)
      << r.status().message();
  // A truncated reply; trailing bytes.
  EXPECT_FALSE(TokenFromResponse(reply.substr(0, reply.size() / 2), *first).ok());
  EXPECT_FALSE(TokenFromResponse(reply + "x", *first).ok());
}

TEST_F(TsaFake, RejectionsAndBadRepliesAreClearErrors) {
  Result<std::string> r = llm::RequestTimestamp(Url("reject"), kNote, 20000);
  EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(r.status().message().find("did not grant"), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("rejection"), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("badAlg"), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("not supported"), std::string::npos) << r.status().message();

  r = llm::RequestTimestamp(Url("http500"), kNote, 20000);
  EXPECT_NE(r.status().message().find("TSA " + Url("http500") + " answered HTTP 500"),
            std::string::npos)
      << r.status().message();

  r = llm::RequestTimestamp(Url("garbage"), kNote, 20000);
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("not a DER TimeStampResp"), std::string::npos)
      << r.status().message();

  r = llm::RequestTimestamp(Url("wrongtype"), kNote, 20000);
  EXPECT_NE(r.status().message().find("text/html"), std::string::npos) << r.status().message();
}

TEST(TsaClient, AnUnreachableTsaIsNamed) {
  // A port nobody listens on: bind one, then close it.
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  close(fd);
  const std::string url = "http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port)) + "/tsa";
  Result<std::string> r = llm::RequestTimestamp(url, kNote, 5000);
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(r.status().message().rfind("TSA unreachable: ", 0), 0u) << r.status().message();
  r = llm::RequestTimestamp("gopher://127.0.0.1/x", kNote, 5000);
  EXPECT_FALSE(r.ok());
}

}  // namespace
}  // namespace fasten::anchor
