// Authentication for the HTTP transport: the tokens file and its CLI, bearer tokens, JWTs, and
// the per-tenant rate limiter. Everything goes through real files and real OpenSSL keys
// generated here.
#include "mcp/auth.h"
#include "mcp/jwt_auth.h"
#include "mcp/rate_limit.h"
#include "mcp/tokens_file.h"

#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sys/stat.h>

#include <atomic>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <thread>

#include "app/commands.h"
#include "test_store.h"
#include "util/base64.h"

namespace fasten::mcp {
namespace {

using nlohmann::json;
using testing::TempDir;
using Clock = std::chrono::steady_clock;
using SysClock = std::chrono::system_clock;

// ---------------------------------------------------------------------------------------------
// Helpers.

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void Spit(const std::string& path, const std::string& text, mode_t mode = 0600) {
  std::string tmp = path + ".test-tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
  }
  ASSERT_EQ(chmod(tmp.c_str(), mode), 0);
  ASSERT_EQ(rename(tmp.c_str(), path.c_str()), 0);
}

// SHA-256 hex computed here with a one-shot EVP_Digest, independent of the code under test.
std::string Sha256Hex(const std::string& s) {
  unsigned char d[32];
  unsigned int n = 0;
  EXPECT_EQ(EVP_Digest(s.data(), s.size(), d, &n, EVP_sha256(), nullptr), 1);
  std::string hex;
  static const char* kHex = "0123456789abcdef";
  for (unsigned i = 0; i < n; ++i) {
    hex += kHex[d[i] >> 4];
    hex += kHex[d[i] & 15];
  }
  return hex;
}

struct CliResult {
  int rc;
  std::string out, err;
};

CliResult Cli(std::vector<std::string> args) {
  args.insert(args.begin(), {"fasten-mcp", "token"});
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  std::ostringstream out, err;
  Env env;
  CliResult r;
  r.rc = RunToken(static_cast<int>(argv.size()), argv.data(), CommandIo{out, err, env});
  r.out = out.str();
  r.err = err.str();
  return r;
}

std::string AddViaCli(const std::string& file, const std::string& tenant,
                      const std::string& label) {
  CliResult r = Cli({"add", "--tenant", tenant, "--tokens", file, "--label", label});
  EXPECT_EQ(r.rc, 0) << r.err;
  std::string token = r.out;
  if (!token.empty() && token.back() == '\n') token.pop_back();
  return token;
}

std::string Bearer(const std::string& token) {
  return "Bearer " + token;
}

// A TokenFileAuthenticator that looks at the file on every call and records what it logs.
struct LiveAuth {
  std::unique_ptr<TokenFileAuthenticator> auth;
  std::shared_ptr<std::vector<std::string>> logs = std::make_shared<std::vector<std::string>>();

  explicit LiveAuth(const std::string& path,
                    std::chrono::milliseconds interval = std::chrono::milliseconds(0)) {
    TokenFileOptions o;
    o.reload_interval = interval;
    auto logs_ref = logs;
    o.log = [logs_ref](const std::string& m) { logs_ref->push_back(m); };
    Status st = TokenFileAuthenticator::Load(path, o, &auth);
    EXPECT_TRUE(st.ok()) << st.ToString();
  }
  // The tenant, or "!" + why.
  std::string Who(const std::string& header) const {
    std::string why;
    std::optional<Principal> p = auth->Authenticate(header, &why);
    return p ? p->tenant : "!" + why;
  }
};

// ---------------------------------------------------------------------------------------------
// The tokens file and the CLI.

TEST(TokenCli, AddListRevokeRoundTripThroughTheFile) {
  TempDir dir;
  std::string file = dir.File("tokens");
  CliResult add = Cli({"add", "--tenant", "acme", "--tokens", file, "--label", "ci"});
  ASSERT_EQ(add.rc, 0) << add.err;
  EXPECT_TRUE(std::regex_match(add.out, std::regex("fmcp_[A-Za-z0-9_-]{43}\n"))) << add.out;
  EXPECT_NE(add.err.find("Authorization: Bearer"), std::string::npos) << add.err;
  std::string acme = add.out.substr(0, add.out.size() - 1);
  EXPECT_EQ(add.err.find(acme), std::string::npos) << "the hint must not repeat the token";
  std::string globex = AddViaCli(file, "globex", "laptop");
  ASSERT_NE(acme, globex);

  struct stat st;
  ASSERT_EQ(stat(file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  std::string text = Slurp(file);
  EXPECT_EQ(text.find(acme), std::string::npos) << "the token itself must never be stored";
  EXPECT_NE(text.find("sha256:" + Sha256Hex(acme) + " tenant=acme label=ci created="),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("sha256:" + Sha256Hex(globex) + " tenant=globex label=laptop"),
            std::string::npos);

  CliResult list = Cli({"list", "--tokens", file});
  ASSERT_EQ(list.rc, 0) << list.err;
  EXPECT_EQ(list.out.find(acme), std::string::npos);
  EXPECT_EQ(list.out.find(globex), std::string::npos);
  EXPECT_EQ(list.out.find(Sha256Hex(acme)), std::string::npos) << "only a digest prefix";
  EXPECT_TRUE(std::regex_search(
      list.out, std::regex("ci +acme +20[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z +sha256:" +
                           Sha256Hex(acme).substr(0, 12) + "\n")))
      << list.out;
  EXPECT_NE(list.out.find("sha256:" + Sha256Hex(globex).substr(0, 12)), std::string::npos);

  CliResult revoke = Cli({"revoke", "--tokens", file, "--label", "ci"});
  ASSERT_EQ(revoke.rc, 0) << revoke.err;
  EXPECT_NE(revoke.out.find("revoked token 'ci'"), std::string::npos) << revoke.out;
  list = Cli({"list", "--tokens", file});
  EXPECT_EQ(list.out.find("acme"), std::string::npos) << list.out;
  EXPECT_NE(list.out.find("laptop"), std::string::npos);

  revoke = Cli({"revoke", "--tokens", file, "--digest", Sha256Hex(globex).substr(0, 10)});
  ASSERT_EQ(revoke.rc, 0) << revoke.err;
  list = Cli({"list", "--tokens", file});
  EXPECT_EQ(list.rc, 0);
  EXPECT_EQ(list.out, "");
  EXPECT_NE(list.err.find("no tokens"), std::string::npos);
  EXPECT_EQ(stat(file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST(TokenCli, DefaultLabelIsTenantAndDigestPrefix) {
  TempDir dir;
  std::string file = dir.File("tokens");
  CliResult add = Cli({"add", "--tenant", "acme", "--tokens", file});
  ASSERT_EQ(add.rc, 0) << add.err;
  std::string token = add.out.substr(0, add.out.size() - 1);
  std::vector<TokenRecord> records;
  ASSERT_TRUE(ReadTokensFile(file, &records).ok());
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].label, "acme-" + Sha256Hex(token).substr(0, 8));
}

TEST(TokenCli, RevokeErrorsOnNoMatchAndOnAmbiguousPrefix) {
  TempDir dir;
  std::string file = dir.File("tokens");
  std::string a(64, 'a'), b = std::string(10, 'a') + std::string(54, 'b');
  ASSERT_TRUE(WriteTokensFile(file, {{a, "acme", "one", ""}, {b, "acme", "two", ""}}).ok());
  CliResult r = Cli({"revoke", "--tokens", file, "--digest", "aaaaaaaa"});
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.err.find("matches 2 tokens (one, two)"), std::string::npos) << r.err;
  r = Cli({"revoke", "--tokens", file, "--label", "three"});
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.err.find("no token"), std::string::npos) << r.err;
  r = Cli({"revoke", "--tokens", file, "--digest", "cccccccc"});
  EXPECT_EQ(r.rc, 2);
  r = Cli({"revoke", "--tokens", file, "--digest", "aaaa"});  // too short to be safe
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.err.find("8 to 64 hex digits"), std::string::npos) << r.err;
  r = Cli({"revoke", "--tokens", file, "--label", "one", "--digest", "aaaaaaaa"});
  EXPECT_EQ(r.rc, 2);
  r = Cli({"revoke", "--tokens", file});
  EXPECT_EQ(r.rc, 2);
  // Nothing was removed by the failures; an unambiguous uppercase sha256: prefix works.
  std::vector<TokenRecord> records;
  ASSERT_TRUE(ReadTokensFile(file, &records).ok());
  EXPECT_EQ(records.size(), 2u);
  r = Cli({"revoke", "--tokens", file, "--digest", "sha256:AAAAAAAAAAB"});
  EXPECT_EQ(r.rc, 0) << r.err;
  ASSERT_TRUE(ReadTokensFile(file, &records).ok());
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].label, "one");
}

TEST(TokenCli, UsageErrorsExitTwo) {
  TempDir dir;
  std::string file = dir.File("tokens");
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  std::vector<Case> cases = {
      {{}, "name one action"},
      {{"frob", "--tokens", file}, "unknown action 'frob'"},
      {{"add", "--tenant", "acme"}, "--tokens FILE is required"},
      {{"add", "--tokens", file}, "--tenant T is required"},
      {{"add", "--tokens", file, "--tenant", ""}, "tenant is empty"},
      {{"add", "--tokens", file, "--tenant", "ac me"}, "without spaces"},
      {{"add", "--tokens", file, "--tenant", "ac\x01me"}, "control characters"},
      {{"add", "--tokens", file, "--tenant", std::string(129, 't')}, "longer than 128"},
      {{"add", "--tokens", file, "--tenant", "acme", "--label", "a b"}, "label must be"},
      {{"add", "--tokens", file, "--tenant", "acme", "--digest", "aaaaaaaa"}, "does not apply"},
      {{"list", "--tokens", file, "--tenant", "acme"}, "does not apply"},
      {{"list", "--tokens", file}, "no tokens file"},
      {{"add", "--tokens", file, "--bogus"}, "unknown option '--bogus'"},
  };
  for (const Case& c : cases) {
    CliResult r = Cli(c.args);
    EXPECT_EQ(r.rc, 2) << c.message;
    EXPECT_NE(r.err.find(c.message), std::string::npos) << r.err;
    EXPECT_EQ(r.out, "");
  }
  EXPECT_NE(access(file.c_str(), F_OK), 0) << "no failed add may create the file";
  AddViaCli(file, "acme", "ci");
  CliResult dup = Cli({"add", "--tenant", "globex", "--tokens", file, "--label", "ci"});
  EXPECT_EQ(dup.rc, 2);
  EXPECT_NE(dup.err.find("label 'ci' is already in"), std::string::npos) << dup.err;
  EXPECT_EQ(dup.out, "") << "a refused add prints no token";
  CliResult help = Cli({"--help"});
  EXPECT_EQ(help.rc, 0);
  EXPECT_EQ(help.out.rfind("Usage: fasten-mcp token add", 0), 0u);
}

TEST(TokensFile, ParsesCommentsBlankLinesCrlfAndAnyFieldOrder) {
  std::string d1(64, '1'), d2(64, '2');
  std::string text = "# comment\n\n   \n  sha256:" + d1 +
                     "  label=x\ttenant=acme created=2026-01-02T03:04:05Z  \r\n"
                     "sha256:" +
                     d2 + " tenant=globex label=y\n# trailing";
  std::vector<TokenRecord> r;
  Status st = ParseTokensFile(text, &r);
  ASSERT_TRUE(st.ok()) << st.ToString();
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].digest, d1);
  EXPECT_EQ(r[0].tenant, "acme");
  EXPECT_EQ(r[0].label, "x");
  EXPECT_EQ(r[0].created, "2026-01-02T03:04:05Z");
  EXPECT_EQ(r[1].tenant, "globex");
  EXPECT_EQ(r[1].created, "");
  // Formatting and parsing again gives the same records.
  std::vector<TokenRecord> again;
  ASSERT_TRUE(ParseTokensFile(FormatTokensFile(r), &again).ok());
  ASSERT_EQ(again.size(), 2u);
  EXPECT_EQ(again[0].label, "x");
  EXPECT_EQ(again[1].digest, d2);
}

TEST(TokensFile, RejectsEveryMalformedLineNamingOnlyItsNumber) {
  std::string d(64, 'a'), e(64, 'b');
  const std::string ok = "sha256:" + e + " tenant=t label=ok\n";
  std::vector<std::string> bad = {
      "sha256:" + d.substr(1) + " tenant=t label=l",            // short digest
      "sha256:" + std::string(64, 'A') + " tenant=t label=l",   // uppercase
      "sha256:" + std::string(63, 'a') + "g tenant=t label=l",  // not hex
      "sha1:" + d + " tenant=t label=l",                        // wrong tag
      d + " tenant=t label=l",                                  // no tag
      "sha256:" + d + " label=l",                               // no tenant
      "sha256:" + d + " tenant=t",                              // no label
      "sha256:" + d + " tenant= label=l",                       // empty tenant
      "sha256:" + d + " tenant=t label=l owner=x",              // unknown field
      "sha256:" + d + " tenant=t tenant=u label=l",             // field twice
      "sha256:" + d + " tenant=t label=l created=yesterday",    // bad time
      "sha256:" + d + " tenant=t label=l stray",                // not key=value
      "sha256:" + d + " tenant=t\x7f label=l",                  // control character
      "sha256:" + e + " tenant=t label=other",                  // digest twice
      "sha256:" + d + " tenant=t label=ok",                     // label twice
  };
  for (const std::string& line : bad) {
    std::vector<TokenRecord> r;
    Status st = ParseTokensFile(ok + line + "\n", &r);
    EXPECT_EQ(st.code(), StatusCode::kDataLoss) << line;
    EXPECT_EQ(st.message().rfind("line 2: ", 0), 0u) << st.message();
    EXPECT_EQ(st.message().find(d), std::string::npos) << "no line text in messages";
  }
}

TEST(TokensFile, LoadRefusesMissingGroupWritableAndCorruptFiles) {
  TempDir dir;
  std::unique_ptr<TokenFileAuthenticator> a;
  EXPECT_EQ(TokenFileAuthenticator::Load(dir.File("none"), &a).code(), StatusCode::kNotFound);
  std::string file = dir.File("tokens");
  Spit(file, "sha256:" + std::string(64, 'a') + " tenant=t label=l\n", 0664);
  Status st = TokenFileAuthenticator::Load(file, &a);
  EXPECT_EQ(st.code(), StatusCode::kFailedPrecondition) << st.ToString();
  EXPECT_NE(st.message().find("chmod 600"), std::string::npos);
  Spit(file, "garbage\n", 0600);
  st = TokenFileAuthenticator::Load(file, &a);
  EXPECT_EQ(st.code(), StatusCode::kDataLoss) << st.ToString();
  EXPECT_NE(st.message().find("line 1"), std::string::npos);
  // An empty file is valid and authenticates nobody.
  Spit(file, "# no tokens yet\n", 0600);
  ASSERT_TRUE(TokenFileAuthenticator::Load(file, &a).ok());
  EXPECT_EQ(a->token_count(), 0u);
  std::string why;
  EXPECT_FALSE(a->Authenticate("Bearer fmcp_x", &why));
  EXPECT_EQ(why, "unknown or revoked token");
}

TEST(TokensFile, NewTokensAreDistinctAndWellFormed) {
  std::set<std::string> seen;
  for (int i = 0; i < 200; ++i) {
    std::string t;
    ASSERT_TRUE(NewToken(&t).ok());
    EXPECT_EQ(t.rfind("fmcp_", 0), 0u);
    std::optional<std::string> raw = Base64UrlDecode(t.substr(5));
    ASSERT_TRUE(raw.has_value()) << t;
    EXPECT_EQ(raw->size(), 32u);
    EXPECT_TRUE(seen.insert(t).second);
  }
}

// ---------------------------------------------------------------------------------------------
// TokenFileAuthenticator.

TEST(TokenFileAuth, KnownAnswerTokenFromAHandWrittenFile) {
  TempDir dir;
  std::string file = dir.File("tokens");
  // sha256("fmcp_known-answer-token"), computed with Python's hashlib.
  Spit(file,
       "sha256:df0986c865ca4853665291ff3122195adcbce4946005769f1958c02acdb219f6 tenant=acme "
       "label=hand\n");
  LiveAuth a(file);
  std::string why;
  std::optional<Principal> p = a.auth->Authenticate("Bearer fmcp_known-answer-token", &why);
  ASSERT_TRUE(p) << why;
  EXPECT_EQ(p->tenant, "acme");
  EXPECT_EQ(p->token_label, "hand");
  EXPECT_EQ(a.Who("Bearer fmcp_known-answer-tokeN"), "!unknown or revoked token");
  EXPECT_EQ(a.Who("Bearer fmcp_known-answer-toke"), "!unknown or revoked token");
}

TEST(TokenFileAuth, TheTokenSelectsTheTenant) {
  TempDir dir;
  std::string file = dir.File("tokens");
  std::string acme = AddViaCli(file, "acme", "a1");
  std::string acme2 = AddViaCli(file, "acme", "a2");
  std::string globex = AddViaCli(file, "globex", "g1");
  LiveAuth a(file);
  std::string why;
  std::optional<Principal> p = a.auth->Authenticate(Bearer(acme2), &why);
  ASSERT_TRUE(p) << why;
  EXPECT_EQ(p->tenant, "acme");
  EXPECT_EQ(p->token_label, "a2");
  EXPECT_EQ(a.Who(Bearer(acme)), "acme");
  EXPECT_EQ(a.Who(Bearer(globex)), "globex");
  EXPECT_EQ(a.auth->token_count(), 3u);
}

TEST(TokenFileAuth, HeaderShapes) {
  TempDir dir;
  std::string file = dir.File("tokens");
  std::string t = AddViaCli(file, "acme", "ci");
  LiveAuth a(file);
  // Accepted: any case of the scheme, surrounding and repeated spaces.
  for (const std::string& h : {"Bearer " + t, "bearer " + t, "BEARER " + t, "BeArEr " + t,
                               "  Bearer   " + t + "  ", "Bearer\t" + t}) {
    EXPECT_EQ(a.Who(h), "acme") << h;
  }
  struct Case {
    std::string header, why;
  };
  for (const Case& c : std::vector<Case>{
           {"", "missing bearer token"},
           {"   ", "missing bearer token"},
           {"Bearer", "missing bearer token"},
           {"Bearer    ", "missing bearer token"},
           {t, "unsupported authorization scheme"},
           {"Basic " + t, "unsupported authorization scheme"},
           {"Bearer: " + t, "unsupported authorization scheme"},
           {"Bearers " + t, "unsupported authorization scheme"},
           {"Bearer " + t + " extra", "malformed bearer token"},
           {"Bearer " + t + ",x", "malformed bearer token"},
           {"Bearer =" + t, "malformed bearer token"},
           {"Bearer " + t + "=x", "malformed bearer token"},
           {"Bearer " + t + "\x01", "malformed bearer token"},
           {"Bearer \"" + t + "\"", "malformed bearer token"},
           {"Bearer " + std::string(9000, 'a'), "malformed bearer token"},
           {"Bearer " + t.substr(0, t.size() - 1), "unknown or revoked token"},
           {"Bearer " + t + "==", "unknown or revoked token"},
           {"Bearer " + Sha256Hex(t), "unknown or revoked token"},  // the digest is not the token
       }) {
    EXPECT_EQ(a.Who(c.header), "!" + c.why) << c.header.substr(0, 60);
  }
}

TEST(TokenFileAuth, PicksUpRevokeAndAddWhileLive) {
  TempDir dir;
  std::string file = dir.File("tokens");
  std::string acme = AddViaCli(file, "acme", "ci");
  std::string globex = AddViaCli(file, "globex", "g");
  LiveAuth a(file);
  EXPECT_EQ(a.Who(Bearer(acme)), "acme");
  ASSERT_EQ(Cli({"revoke", "--tokens", file, "--label", "ci"}).rc, 0);
  EXPECT_EQ(a.Who(Bearer(acme)), "!unknown or revoked token");
  EXPECT_EQ(a.Who(Bearer(globex)), "globex");
  std::string later = AddViaCli(file, "initech", "new");
  EXPECT_EQ(a.Who(Bearer(later)), "initech");
  EXPECT_EQ(a.auth->token_count(), 2u);
  EXPECT_TRUE(a.logs->empty());
}

TEST(TokenFileAuth, LooksAtTheFileAtMostOncePerInterval) {
  TempDir dir;
  std::string file = dir.File("tokens");
  std::string acme = AddViaCli(file, "acme", "ci");
  LiveAuth a(file, std::chrono::hours(1));
  ASSERT_EQ(Cli({"revoke", "--tokens", file, "--label", "ci"}).rc, 0);
  // Within the interval the old set is still in force: the file was not looked at.
  EXPECT_EQ(a.Who(Bearer(acme)), "acme");
}

TEST(TokenFileAuth, DefaultIntervalReloadsWithinAboutASecond) {
  TempDir dir;
  std::string file = dir.File("tokens");
  std::string acme = AddViaCli(file, "acme", "ci");
  std::unique_ptr<TokenFileAuthenticator> auth;
  ASSERT_TRUE(TokenFileAuthenticator::Load(file, &auth).ok());
  ASSERT_EQ(Cli({"revoke", "--tokens", file, "--label", "ci"}).rc, 0);
  auto start = Clock::now();
  std::string why;
  while (auth->Authenticate(Bearer(acme), &why) && Clock::now() - start < std::chrono::seconds(5)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(why, "unknown or revoked token");
  EXPECT_LT(Clock::now() - start, std::chrono::milliseconds(2500));
}

TEST(TokenFileAuth, CorruptOrMissingFileKeepsTheLastGoodSetAndLogsOnce) {
  TempDir dir;
  std::string file = dir.File("tokens");
  std::string acme = AddViaCli(file, "acme", "ci");
  LiveAuth a(file);
  EXPECT_EQ(a.Who(Bearer(acme)), "acme");

  Spit(file, "sha256:nothex tenant=acme label=x\n");
  for (int i = 0; i < 3; ++i) EXPECT_EQ(a.Who(Bearer(acme)), "acme");
  ASSERT_EQ(a.logs->size(), 1u);
  EXPECT_NE((*a.logs)[0].find("keeping the last good set"), std::string::npos) << (*a.logs)[0];
  EXPECT_NE((*a.logs)[0].find("line 1"), std::string::npos) << (*a.logs)[0];

  // Another bad version while still failing: still one log line.
  Spit(file, "still garbage\n");
  EXPECT_EQ(a.Who(Bearer(acme)), "acme");
  EXPECT_EQ(a.logs->size(), 1u);

  // Repaired (the old token gone, a new one in): the new set takes over.
  std::string other_token;
  ASSERT_TRUE(NewToken(&other_token).ok());
  Spit(file, "sha256:" + Sha256Hex(other_token) + " tenant=globex label=g\n");
  EXPECT_EQ(a.Who(Bearer(other_token)), "globex");
  EXPECT_EQ(a.Who(Bearer(acme)), "!unknown or revoked token");
  EXPECT_EQ(a.logs->size(), 1u);

  // Deleted, then made group-writable: each failure episode is logged once, the set is kept.
  ASSERT_EQ(unlink(file.c_str()), 0);
  EXPECT_EQ(a.Who(Bearer(other_token)), "globex");
  EXPECT_EQ(a.Who(Bearer(other_token)), "globex");
  ASSERT_EQ(a.logs->size(), 2u);
  EXPECT_NE((*a.logs)[1].find("no tokens file"), std::string::npos) << (*a.logs)[1];
  for (const std::string& line : *a.logs) {
    EXPECT_EQ(line.find(other_token), std::string::npos);
    EXPECT_EQ(line.find(acme), std::string::npos);
  }
}

TEST(TokenFileAuth, ConcurrentAuthenticationWhileTheFileChanges) {
  TempDir dir;
  std::string file = dir.File("tokens");
  std::string stable = AddViaCli(file, "acme", "stable");
  LiveAuth a(file);
  std::atomic<bool> stop{false};
  std::atomic<int> wrong{0}, ok{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] {
      while (!stop) {
        std::string why;
        std::optional<Principal> p = a.auth->Authenticate(Bearer(stable), &why);
        if (p && p->tenant == "acme") {
          ++ok;
        } else {
          ++wrong;
        }
        if (a.auth->Authenticate("Bearer fmcp_nope", &why)) ++wrong;
      }
    });
  }
  for (int i = 0; i < 20; ++i) {
    std::string t = AddViaCli(file, "t" + std::to_string(i), "l" + std::to_string(i));
    // Another thread may be the one looking at the file right now; this one then carries on
    // with the current set, so the new token becomes visible on a following call.
    std::string who;
    auto start = Clock::now();
    while ((who = a.Who(Bearer(t))) != "t" + std::to_string(i) &&
           Clock::now() - start < std::chrono::seconds(3)) {
      std::this_thread::yield();
    }
    EXPECT_EQ(who, "t" + std::to_string(i));
    if (i % 2 == 0) {
      EXPECT_EQ(Cli({"revoke", "--tokens", file, "--label", "l" + std::to_string(i)}).rc, 0);
    }
  }
  stop = true;
  for (auto& t : threads) t.join();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_GT(ok.load(), 0);
  EXPECT_EQ(a.auth->token_count(), 11u);
}

TEST(TokenFileAuth, ConcurrentAddsLoseNothing) {
  TempDir dir;
  std::string file = dir.File("tokens");
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      for (int j = 0; j < 5; ++j) {
        std::string token;
        TokenRecord r;
        Status st = AddToken(file, "acme", "w" + std::to_string(i) + "-" + std::to_string(j),
                             SysClock::now(), &token, &r);
        EXPECT_TRUE(st.ok()) << st.ToString();
      }
    });
  }
  for (auto& t : threads) t.join();
  std::vector<TokenRecord> records;
  ASSERT_TRUE(ReadTokensFile(file, &records).ok());
  EXPECT_EQ(records.size(), 40u);
}

// ---------------------------------------------------------------------------------------------
// JWT.

struct PkeyDel {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyDel>;

std::string PublicPem(EVP_PKEY* key) {
  BIO* bio = BIO_new(BIO_s_mem());
  EXPECT_EQ(PEM_write_bio_PUBKEY(bio, key), 1);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<size_t>(n));
  BIO_free(bio);
  return pem;
}

std::string B64(const std::string& s) {
  return Base64UrlEncode(s);
}

std::string HmacSign(const std::string& secret, const std::string& input) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  size_t n = 0;
  EXPECT_NE(EVP_Q_mac(nullptr, "HMAC", nullptr, "SHA256", nullptr, secret.data(), secret.size(),
                      reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac,
                      sizeof mac, &n),
            nullptr);
  return std::string(reinterpret_cast<char*>(mac), n);
}

// DER signature over SHA-256 (RSA PKCS#1 v1.5 or ECDSA).
std::string PkeySignDer(EVP_PKEY* key, const std::string& input) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EXPECT_EQ(EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, key), 1);
  size_t n = 0;
  EXPECT_EQ(EVP_DigestSign(ctx, nullptr, &n, reinterpret_cast<const unsigned char*>(input.data()),
                           input.size()),
            1);
  std::string sig(n, '\0');
  EXPECT_EQ(EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &n,
                           reinterpret_cast<const unsigned char*>(input.data()), input.size()),
            1);
  sig.resize(n);
  EVP_MD_CTX_free(ctx);
  return sig;
}

// ECDSA DER -> JWS R || S.
std::string EsRaw(const std::string& der) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  ECDSA_SIG* sig = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size()));
  EXPECT_NE(sig, nullptr);
  unsigned char out[64];
  BN_bn2binpad(ECDSA_SIG_get0_r(sig), out, 32);
  BN_bn2binpad(ECDSA_SIG_get0_s(sig), out + 32, 32);
  ECDSA_SIG_free(sig);
  return std::string(reinterpret_cast<char*>(out), 64);
}

const std::string kSecret = "0123456789abcdef0123456789abcdef-shared";

// Who's answer for a date claim that is not whole seconds in range.
std::string Malformed(const std::string& claim) {
  return "!malformed JWT: " + claim + " is not a date (whole seconds, 0 to 253402300799)";
}

class Jwt : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    rsa_.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(2048)));
    rsa_other_.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(2048)));
    ec_.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
    ec_other_.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
    ASSERT_TRUE(rsa_ && rsa_other_ && ec_ && ec_other_);
  }
  static void TearDownTestSuite() {
    rsa_.reset();
    rsa_other_.reset();
    ec_.reset();
    ec_other_.reset();
  }

  static int64_t Now() {
    return std::chrono::duration_cast<std::chrono::seconds>(SysClock::now().time_since_epoch())
        .count();
  }
  static json Claims() {
    return {{"tenant", "acme"}, {"aud", "fasten-mcp"}, {"exp", Now() + 300}, {"sub", "alice"}};
  }
  static JwtOptions Options(JwtOptions::Algorithm alg) {
    JwtOptions o;
    o.algorithm = alg;
    o.audiences = {"fasten-mcp"};
    return o;
  }
  static std::unique_ptr<JwtAuthenticator> Make(JwtOptions::Algorithm alg, const std::string& key) {
    std::unique_ptr<JwtAuthenticator> a;
    Status st = JwtAuthenticator::Create(Options(alg), key, &a);
    EXPECT_TRUE(st.ok()) << st.ToString();
    return a;
  }

  // header.payload with the given alg, signed by `sign`.
  static std::string Token(const json& header, const json& claims,
                           const std::function<std::string(const std::string&)>& sign) {
    std::string input = B64(header.dump()) + "." + B64(claims.dump());
    return input + "." + B64(sign(input));
  }
  static std::string Hs(const json& claims, const std::string& secret = kSecret) {
    return Token({{"alg", "HS256"}, {"typ", "JWT"}}, claims,
                 [&](const std::string& in) { return HmacSign(secret, in); });
  }
  // An HS256 token over claims given as JSON text (numbers nlohmann cannot hold, as sent).
  static std::string HsText(const std::string& claims) {
    std::string input = B64(json{{"alg", "HS256"}}.dump()) + "." + B64(claims);
    return input + "." + B64(HmacSign(kSecret, input));
  }
  static std::string Rs(const json& claims, EVP_PKEY* key = nullptr) {
    return Token({{"alg", "RS256"}}, claims,
                 [&](const std::string& in) { return PkeySignDer(key ? key : rsa_.get(), in); });
  }
  static std::string Es(const json& claims, EVP_PKEY* key = nullptr) {
    return Token({{"alg", "ES256"}}, claims, [&](const std::string& in) {
      return EsRaw(PkeySignDer(key ? key : ec_.get(), in));
    });
  }
  static std::string Who(const Authenticator& a, const std::string& token) {
    std::string why;
    std::optional<Principal> p = a.Authenticate("Bearer " + token, &why);
    return p ? p->tenant : "!" + why;
  }

  static Pkey rsa_, rsa_other_, ec_, ec_other_;
};

Pkey Jwt::rsa_, Jwt::rsa_other_, Jwt::ec_, Jwt::ec_other_;

TEST_F(Jwt, Hs256ValidTokenGivesTheTenantClaim) {
  auto a = Make(JwtOptions::Algorithm::kHs256, kSecret);
  std::string why;
  std::optional<Principal> p = a->Authenticate("bearer " + Hs(Claims()), &why);
  ASSERT_TRUE(p) << why;
  EXPECT_EQ(p->tenant, "acme");
  EXPECT_EQ(p->token_label, "jwt:alice");
  json c = Claims();
  c.erase("sub");
  p = a->Authenticate("Bearer " + Hs(c), &why);
  ASSERT_TRUE(p) << why;
  EXPECT_EQ(p->token_label, "jwt");
}

// RFC 7515 appendix A.1: a published HS256 token and key. Its claims carry no aud, so a correct
// signature check gets as far as the audience; a wrong one stops at the signature.
TEST_F(Jwt, Rfc7515VectorSignatureVerifies) {
  std::optional<std::string> key = Base64UrlDecode(
      "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow");
  ASSERT_TRUE(key);
  const std::string token =
      "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9."
      "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVl"
      "fQ.dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
  JwtOptions o = Options(JwtOptions::Algorithm::kHs256);
  o.clock = [] { return SysClock::time_point(std::chrono::seconds(1300819000)); };
  std::unique_ptr<JwtAuthenticator> a;
  ASSERT_TRUE(JwtAuthenticator::Create(o, *key, &a).ok());
  EXPECT_EQ(Who(*a, token), "!JWT audience mismatch");
  std::string flipped = token;
  flipped[flipped.size() - 2] = flipped[flipped.size() - 2] == 'X' ? 'Y' : 'X';
  EXPECT_EQ(Who(*a, flipped), "!bad JWT signature");
  o.clock = [] { return SysClock::time_point(std::chrono::seconds(1300819380 + 30)); };
  ASSERT_TRUE(JwtAuthenticator::Create(o, *key, &a).ok());
  EXPECT_EQ(Who(*a, token), "!token expired");
}

TEST_F(Jwt, ExpiryAndNotBeforeWithLeeway) {
  auto a = Make(JwtOptions::Algorithm::kHs256, kSecret);  // leeway 30 s
  json c = Claims();
  c["exp"] = Now() - 60;
  EXPECT_EQ(Who(*a, Hs(c)), "!token expired");
  c["exp"] = Now() - 5;  // within the leeway
  EXPECT_EQ(Who(*a, Hs(c)), "acme");
  c.erase("exp");
  EXPECT_EQ(Who(*a, Hs(c)), "!JWT has no exp");
  c["exp"] = "tomorrow";
  EXPECT_EQ(Who(*a, Hs(c)), Malformed("exp"));
  c = Claims();
  c["nbf"] = Now() + 600;
  EXPECT_EQ(Who(*a, Hs(c)), "!token not yet valid");
  c["nbf"] = Now() + 5;
  EXPECT_EQ(Who(*a, Hs(c)), "acme");
  c["nbf"] = Now() - 100;
  EXPECT_EQ(Who(*a, Hs(c)), "acme");
}

// issue 12 item 6: `exp: 1e300` or `exp: 2^70` made a token that never expires. exp, nbf and
// iat are JSON integers from 0 to 253402300799 (9999-12-31T23:59:59Z), or the token is
// malformed.
TEST_F(Jwt, DateClaimsMustBeIntegersInRange) {
  auto a = Make(JwtOptions::Algorithm::kHs256, kSecret);
  const std::string now = std::to_string(Now());
  const std::string later = std::to_string(Now() + 300);
  auto with = [&](const std::string& members) {
    return HsText(R"({"tenant":"acme","aud":"fasten-mcp",)" + members + "}");
  };
  EXPECT_EQ(Who(*a, with(R"("exp":)" + later)), "acme");
  EXPECT_EQ(Who(*a, with(R"("exp":)" + later + R"(,"nbf":)" + now + R"(,"iat":)" + now)), "acme");
  for (const std::string& bad :
       {std::string("1e300"), std::string("1180591620717411303424"),  // 2^70
        std::string("18446744073709551615"), std::string("253402300800"), std::string("-1"),
        later + ".0", later + ".5", std::string("1.7e9"), std::string("\"") + later + "\"",
        std::string("null"), std::string("true"), std::string("[") + later + "]"}) {
    EXPECT_EQ(Who(*a, with(R"("exp":)" + bad)), Malformed("exp")) << bad;
    EXPECT_EQ(Who(*a, with(R"("exp":)" + later + R"(,"nbf":)" + bad)), Malformed("nbf")) << bad;
    EXPECT_EQ(Who(*a, with(R"("exp":)" + later + R"(,"iat":)" + bad)), Malformed("iat")) << bad;
  }
  // The upper bound itself is a date (a lifetime limit may still refuse it).
  JwtOptions o = Options(JwtOptions::Algorithm::kHs256);
  o.max_lifetime = std::chrono::seconds(0);
  std::unique_ptr<JwtAuthenticator> unlimited;
  ASSERT_TRUE(JwtAuthenticator::Create(o, kSecret, &unlimited).ok());
  EXPECT_EQ(Who(*unlimited, with(R"("exp":253402300799)")), "acme");
  // A token issued in the future (beyond the leeway) is not valid yet.
  EXPECT_EQ(Who(*a, with(R"("exp":)" + later + R"(,"iat":)" + std::to_string(Now() + 120))),
            "!token not yet valid");
}

// A maximum lifetime: exp - iat, or exp - now without iat, over it is refused.
TEST_F(Jwt, MaximumLifetime) {
  JwtOptions o = Options(JwtOptions::Algorithm::kHs256);
  EXPECT_EQ(o.max_lifetime, std::chrono::hours(24));  // the default
  o.max_lifetime = std::chrono::seconds(3600);
  std::unique_ptr<JwtAuthenticator> a;
  ASSERT_TRUE(JwtAuthenticator::Create(o, kSecret, &a).ok());
  const int64_t now = Now();
  json c = Claims();
  c["iat"] = now - 100;
  c["exp"] = now - 100 + 3600;
  EXPECT_EQ(Who(*a, Hs(c)), "acme");
  c["exp"] = now - 100 + 3601;
  EXPECT_EQ(Who(*a, Hs(c)), "!JWT lifetime over the server's maximum (3600 s)");
  c.erase("iat");
  c["exp"] = now + 3500;
  EXPECT_EQ(Who(*a, Hs(c)), "acme");
  c["exp"] = now + 3700;
  EXPECT_EQ(Who(*a, Hs(c)), "!JWT lifetime over the server's maximum (3600 s)");
  // The default (24 h) refuses a week-long token; 0 turns the limit off.
  c["exp"] = now + 7 * 86400;
  EXPECT_EQ(Who(*Make(JwtOptions::Algorithm::kHs256, kSecret), Hs(c)),
            "!JWT lifetime over the server's maximum (86400 s)");
  o.max_lifetime = std::chrono::seconds(0);
  ASSERT_TRUE(JwtAuthenticator::Create(o, kSecret, &a).ok());
  EXPECT_EQ(Who(*a, Hs(c)), "acme");
  o.max_lifetime = std::chrono::seconds(-1);
  EXPECT_FALSE(JwtAuthenticator::Create(o, kSecret, &a).ok());
}

TEST_F(Jwt, AudienceIssuerAndTenantClaims) {
  auto a = Make(JwtOptions::Algorithm::kHs256, kSecret);
  json c = Claims();
  c["aud"] = "another-api";
  EXPECT_EQ(Who(*a, Hs(c)), "!JWT audience mismatch");
  c["aud"] = json::array({"another-api", "fasten-mcp"});
  EXPECT_EQ(Who(*a, Hs(c)), "acme");
  c["aud"] = json::array({"another-api"});
  EXPECT_EQ(Who(*a, Hs(c)), "!JWT audience mismatch");
  c.erase("aud");
  EXPECT_EQ(Who(*a, Hs(c)), "!JWT audience mismatch");
  c = Claims();
  c.erase("tenant");
  EXPECT_EQ(Who(*a, Hs(c)), "!JWT missing tenant claim");
  c["tenant"] = 42;
  EXPECT_EQ(Who(*a, Hs(c)), "!JWT missing tenant claim");
  c["tenant"] = "two words";
  EXPECT_EQ(Who(*a, Hs(c)), "!JWT tenant claim invalid");

  JwtOptions o = Options(JwtOptions::Algorithm::kHs256);
  o.tenant_claim = "https://fasten.example/tenant";
  o.issuer = "https://issuer.example";
  std::unique_ptr<JwtAuthenticator> b;
  ASSERT_TRUE(JwtAuthenticator::Create(o, kSecret, &b).ok());
  c = Claims();
  c["https://fasten.example/tenant"] = "globex";
  EXPECT_EQ(Who(*b, Hs(c)), "!JWT issuer mismatch");
  c["iss"] = "https://issuer.example";
  EXPECT_EQ(Who(*b, Hs(c)), "globex") << "the configured claim, not 'tenant'";
}

TEST_F(Jwt, RejectsAlgNoneAndAnyAlgOtherThanConfigured) {
  auto a = Make(JwtOptions::Algorithm::kHs256, kSecret);
  std::string unsigned_input = B64(json({{"alg", "none"}}).dump()) + "." + B64(Claims().dump());
  EXPECT_EQ(Who(*a, unsigned_input + "."), "!JWT algorithm not accepted");
  for (const char* alg : {"none", "None", "NONE", "hs256", "HS384", "HS512", "RS256", "ES256"}) {
    std::string t = Token({{"alg", alg}}, Claims(),
                          [](const std::string& in) { return HmacSign(kSecret, in); });
    EXPECT_EQ(Who(*a, t), "!JWT algorithm not accepted") << alg;
  }
  std::string no_alg = Token({{"typ", "JWT"}}, Claims(),
                             [](const std::string& in) { return HmacSign(kSecret, in); });
  EXPECT_EQ(Who(*a, no_alg), "!JWT algorithm not accepted");
  std::string crit = Token({{"alg", "HS256"}, {"crit", {"exp"}}}, Claims(),
                           [](const std::string& in) { return HmacSign(kSecret, in); });
  EXPECT_EQ(Who(*a, crit), "!JWT crit header not supported");
}

// The classic confusion: an RS256 server, and a token "HS256"-signed with the server's public
// key as the HMAC secret.
TEST_F(Jwt, AlgConfusionWithThePublicKeyAsHmacSecretIsRejected) {
  std::string pem = PublicPem(rsa_.get());
  auto a = Make(JwtOptions::Algorithm::kRs256, pem);
  std::string as_hs =
      Token({{"alg", "HS256"}}, Claims(), [&](const std::string& in) { return HmacSign(pem, in); });
  EXPECT_EQ(Who(*a, as_hs), "!JWT algorithm not accepted");
  std::string lying =
      Token({{"alg", "RS256"}}, Claims(), [&](const std::string& in) { return HmacSign(pem, in); });
  EXPECT_EQ(Who(*a, lying), "!bad JWT signature");
  // And the configuration that would allow it is refused up front.
  std::unique_ptr<JwtAuthenticator> b;
  Status st = JwtAuthenticator::Create(Options(JwtOptions::Algorithm::kHs256), pem, &b);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("PEM"), std::string::npos) << st.message();
}

TEST_F(Jwt, BadSignaturesAreRejected) {
  auto hs = Make(JwtOptions::Algorithm::kHs256, kSecret);
  EXPECT_EQ(Who(*hs, Hs(Claims(), kSecret + "x")), "!bad JWT signature");
  std::string t = Hs(Claims());
  size_t dot = t.rfind('.');
  // Payload changed after signing.
  json forged = Claims();
  forged["tenant"] = "globex";
  std::string swapped = t.substr(0, t.find('.') + 1) + B64(forged.dump()) + t.substr(dot);
  EXPECT_EQ(Who(*hs, swapped), "!bad JWT signature");
  EXPECT_EQ(Who(*hs, t.substr(0, dot + 1)), "!bad JWT signature");       // empty signature
  EXPECT_EQ(Who(*hs, t.substr(0, t.size() - 4)), "!bad JWT signature");  // truncated

  auto rs = Make(JwtOptions::Algorithm::kRs256, PublicPem(rsa_.get()));
  EXPECT_EQ(Who(*rs, Rs(Claims(), rsa_other_.get())), "!bad JWT signature");
  auto es = Make(JwtOptions::Algorithm::kEs256, PublicPem(ec_.get()));
  EXPECT_EQ(Who(*es, Es(Claims(), ec_other_.get())), "!bad JWT signature");
  // An ES256 signature in DER rather than JWS R || S.
  std::string der = Token({{"alg", "ES256"}}, Claims(),
                          [](const std::string& in) { return PkeySignDer(ec_.get(), in); });
  EXPECT_EQ(Who(*es, der), "!bad JWT signature");
}

TEST_F(Jwt, Rs256AndEs256ValidTokens) {
  auto rs = Make(JwtOptions::Algorithm::kRs256, PublicPem(rsa_.get()));
  EXPECT_EQ(Who(*rs, Rs(Claims())), "acme");
  json c = Claims();
  c["exp"] = Now() - 3600;
  EXPECT_EQ(Who(*rs, Rs(c)), "!token expired");
  auto es = Make(JwtOptions::Algorithm::kEs256, PublicPem(ec_.get()));
  for (int i = 0; i < 10; ++i) EXPECT_EQ(Who(*es, Es(Claims())), "acme");  // fresh nonce each
  c = Claims();
  c.erase("tenant");
  EXPECT_EQ(Who(*es, Es(c)), "!JWT missing tenant claim");
  c = Claims();
  c["nbf"] = Now() + 3600;
  EXPECT_EQ(Who(*es, Es(c)), "!token not yet valid");
  // A token for the other algorithm is refused by each.
  EXPECT_EQ(Who(*rs, Es(Claims())), "!JWT algorithm not accepted");
  EXPECT_EQ(Who(*es, Rs(Claims())), "!JWT algorithm not accepted");
}

TEST_F(Jwt, MalformedTokens) {
  auto a = Make(JwtOptions::Algorithm::kHs256, kSecret);
  std::string t = Hs(Claims());
  std::string not_json = B64("{nope") + "." + B64(Claims().dump()) + ".sig";
  for (const std::string& bad : {std::string("abc"), std::string("a.b"), t + ".x",
                                 std::string("a.b.c"), std::string(".."), not_json}) {
    EXPECT_EQ(Who(*a, bad), "!malformed JWT") << bad;
  }
  std::string array_claims = Token({{"alg", "HS256"}}, json::array({1}),
                                   [](const std::string& in) { return HmacSign(kSecret, in); });
  EXPECT_EQ(Who(*a, array_claims), "!malformed JWT");
  EXPECT_EQ(Who(*a, ""), "!missing bearer token") << "the header rules come first";
}

TEST_F(Jwt, CreateRefusesKeysThatDoNotFitTheAlgorithm) {
  std::unique_ptr<JwtAuthenticator> a;
  EXPECT_FALSE(JwtAuthenticator::Create(Options(JwtOptions::Algorithm::kHs256), "short", &a).ok());
  EXPECT_FALSE(
      JwtAuthenticator::Create(Options(JwtOptions::Algorithm::kRs256), PublicPem(ec_.get()), &a)
          .ok());
  EXPECT_FALSE(
      JwtAuthenticator::Create(Options(JwtOptions::Algorithm::kEs256), PublicPem(rsa_.get()), &a)
          .ok());
  EXPECT_FALSE(
      JwtAuthenticator::Create(Options(JwtOptions::Algorithm::kRs256), "not a pem", &a).ok());
  Pkey small(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(1024)));
  Status st =
      JwtAuthenticator::Create(Options(JwtOptions::Algorithm::kRs256), PublicPem(small.get()), &a);
  EXPECT_NE(st.message().find("2048"), std::string::npos) << st.ToString();
  Pkey p384(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384"));
  st = JwtAuthenticator::Create(Options(JwtOptions::Algorithm::kEs256), PublicPem(p384.get()), &a);
  EXPECT_NE(st.message().find("P-256"), std::string::npos) << st.ToString();
  JwtOptions no_aud = Options(JwtOptions::Algorithm::kHs256);
  no_aud.audiences.clear();
  st = JwtAuthenticator::Create(no_aud, kSecret, &a);
  EXPECT_NE(st.message().find("audience"), std::string::npos) << st.ToString();
}

TEST_F(Jwt, LoadReadsKeyFilesAndIgnoresOneTrailingNewlineOfASecret) {
  TempDir dir;
  std::string secret_file = dir.File("secret");
  Spit(secret_file, kSecret + "\n");
  JwtOptions o = Options(JwtOptions::Algorithm::kHs256);
  o.key_file = secret_file;
  std::unique_ptr<JwtAuthenticator> a;
  ASSERT_TRUE(JwtAuthenticator::Load(o, &a).ok());
  EXPECT_EQ(Who(*a, Hs(Claims())), "acme");
  std::string pem_file = dir.File("ec.pem");
  Spit(pem_file, PublicPem(ec_.get()));
  o = Options(JwtOptions::Algorithm::kEs256);
  o.key_file = pem_file;
  ASSERT_TRUE(JwtAuthenticator::Load(o, &a).ok());
  EXPECT_EQ(Who(*a, Es(Claims())), "acme");
  o.key_file = dir.File("missing");
  EXPECT_FALSE(JwtAuthenticator::Load(o, &a).ok());
}

TEST_F(Jwt, AnyOfTriesTokenFileThenJwt) {
  TempDir dir;
  std::string file = dir.File("tokens");
  std::string opaque = AddViaCli(file, "globex", "ci");
  std::vector<std::unique_ptr<Authenticator>> parts;
  std::unique_ptr<TokenFileAuthenticator> tf;
  ASSERT_TRUE(TokenFileAuthenticator::Load(file, &tf).ok());
  parts.push_back(std::move(tf));
  parts.push_back(Make(JwtOptions::Algorithm::kEs256, PublicPem(ec_.get())));
  AnyOfAuthenticator any(std::move(parts));
  EXPECT_EQ(Who(any, opaque), "globex");
  EXPECT_EQ(Who(any, Es(Claims())), "acme");
  EXPECT_EQ(Who(any, "fmcp_unknown"), "!unknown or revoked token; malformed JWT");
  json c = Claims();
  c["exp"] = Now() - 3600;
  EXPECT_EQ(Who(any, Es(c)), "!unknown or revoked token; token expired");
  std::string why;
  EXPECT_FALSE(any.Authenticate("", &why));
  EXPECT_EQ(why, "missing bearer token");
  AnyOfAuthenticator none({});
  EXPECT_FALSE(none.Authenticate("Bearer x", &why));
}

// ---------------------------------------------------------------------------------------------
// RateLimiter.

Clock::time_point T0() {
  return Clock::time_point(std::chrono::hours(1000));
}
Clock::time_point At(double seconds) {
  return T0() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
}

TEST(RateLimiter, BurstThenRefillAtTheConfiguredRate) {
  RateLimiter rl(2.0, 5.0);  // 2 per second, burst 5
  int retry = -1;
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(rl.Allow("acme", At(0), &retry)) << i;
  EXPECT_FALSE(rl.Allow("acme", At(0), &retry));
  EXPECT_EQ(retry, 1);
  EXPECT_FALSE(rl.Allow("acme", At(0.25), &retry));  // 0.5 refilled
  EXPECT_TRUE(rl.Allow("acme", At(0.5), &retry));    // 1.0
  EXPECT_FALSE(rl.Allow("acme", At(0.5), &retry));
  // Ten seconds idle refill at most the burst.
  int allowed = 0;
  while (rl.Allow("acme", At(10.5), &retry)) ++allowed;
  EXPECT_EQ(allowed, 5);
  // Over one simulated minute at 10 requests per second, about 2 per second get through.
  allowed = 0;
  for (int i = 1; i <= 600; ++i) allowed += rl.Allow("acme", At(10.5 + i * 0.1), &retry);
  EXPECT_GE(allowed, 119);
  EXPECT_LE(allowed, 121);
}

TEST(RateLimiter, RetryAfterIsTheWholeSecondsUntilOneRequestRefills) {
  RateLimiter slow(0.25, 1.0);  // one request per 4 s
  int retry = -1;
  EXPECT_TRUE(slow.Allow("acme", At(0), &retry));
  EXPECT_FALSE(slow.Allow("acme", At(0), &retry));
  EXPECT_EQ(retry, 4);
  EXPECT_FALSE(slow.Allow("acme", At(1.5), &retry));
  EXPECT_EQ(retry, 3);  // 2.5 s left, rounded up
  EXPECT_FALSE(slow.Allow("acme", At(3.75), &retry));
  EXPECT_EQ(retry, 1);  // 0.25 s left
  EXPECT_TRUE(slow.Allow("acme", At(4.0), &retry));

  RateLimiter fast(10.0, 1.0);  // 0.1 s left still says 1
  EXPECT_TRUE(fast.Allow("acme", At(0), &retry));
  EXPECT_FALSE(fast.Allow("acme", At(0), &retry));
  EXPECT_EQ(retry, 1);

  RateLimiter glacial(1e-9, 1.0);  // capped at a day
  EXPECT_TRUE(glacial.Allow("acme", At(0), &retry));
  EXPECT_FALSE(glacial.Allow("acme", At(0), &retry));
  EXPECT_EQ(retry, 86400);
}

TEST(RateLimiter, TenantsAreIndependent) {
  RateLimiter rl(1.0, 3.0);
  int retry = 0;
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(rl.Allow("acme", At(0), &retry));
  EXPECT_FALSE(rl.Allow("acme", At(0), &retry));
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(rl.Allow("globex", At(0), &retry)) << i;
  EXPECT_FALSE(rl.Allow("globex", At(0), &retry));
  EXPECT_FALSE(rl.Allow("acme", At(0.5), &retry));
  EXPECT_TRUE(rl.Allow("initech", At(0.5), &retry));
}

TEST(RateLimiter, ClockGoingBackwardsRefillsNothingAndZeroRateDisables) {
  RateLimiter rl(1.0, 1.0);
  int retry = 0;
  EXPECT_TRUE(rl.Allow("acme", At(10), &retry));
  EXPECT_FALSE(rl.Allow("acme", At(5), &retry));
  EXPECT_FALSE(rl.Allow("acme", At(10.5), &retry));
  EXPECT_TRUE(rl.Allow("acme", At(11), &retry));
  RateLimiter off(0.0, 1.0);
  for (int i = 0; i < 1000; ++i) EXPECT_TRUE(off.Allow("acme", At(0), &retry));
}

TEST(RateLimiter, ConcurrentCallersShareOneBucketExactly) {
  RateLimiter rl(1.0, 1000.0);
  std::atomic<int> allowed{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      int retry = 0;
      for (int j = 0; j < 500; ++j) allowed += rl.Allow("acme", At(0), &retry);
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(allowed.load(), 1000);
}

TEST(RateLimiter, IdleBucketsArePrunedButActiveOnesAreKept) {
  RateLimiter rl(1.0, 2.0);
  int retry = 0;
  for (int i = 0; i < 4095; ++i) EXPECT_TRUE(rl.Allow("t" + std::to_string(i), At(0), &retry));
  EXPECT_TRUE(rl.Allow("busy", At(9.5), &retry));
  EXPECT_EQ(rl.bucket_count(), 4096u);
  EXPECT_TRUE(rl.Allow("busy", At(9.5), &retry));
  // At 10 s the t* buckets have refilled (and are dropped); "busy" holds only 0.5.
  EXPECT_TRUE(rl.Allow("newcomer", At(10), &retry));
  EXPECT_EQ(rl.bucket_count(), 2u);
  EXPECT_FALSE(rl.Allow("busy", At(10), &retry));
  EXPECT_EQ(retry, 1);
  // A pruned tenant starts again with a full bucket, as it would have had anyway.
  EXPECT_TRUE(rl.Allow("t0", At(10), &retry));
  EXPECT_TRUE(rl.Allow("t0", At(10), &retry));
  EXPECT_FALSE(rl.Allow("t0", At(10), &retry));
}

}  // namespace
}  // namespace fasten::mcp
