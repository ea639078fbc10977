#include "record/record_log.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "mcp/access_record.h"
#include "record/record_writer.h"
#include "support/test_scopes.h"
#include "util/crypto.h"
#include "validator/canonical.h"

namespace fasten::record {
namespace {

using nlohmann::json;

class TempState {
 public:
  TempState() {
    char tmpl[] = "/tmp/fasten-record-XXXXXX";
    dir_ = mkdtemp(tmpl);
    path_ = dir_ + "/sub/state.db";  // Open creates the directory
  }
  ~TempState() { std::system(("rm -rf '" + dir_ + "'").c_str()); }
  const std::string& path() const { return path_; }
  void MakeParentDir() const { ASSERT_EQ(mkdir((dir_ + "/sub").c_str(), 0700), 0); }

  // Runs SQL on the file behind the log's back, as a person with the file would.
  void Sql(const std::string& sql) const {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
    char* err = nullptr;
    int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
    std::string msg = err ? err : "";
    sqlite3_free(err);
    sqlite3_close(db);
    ASSERT_EQ(rc, SQLITE_OK) << msg << "\n" << sql;
  }

 private:
  std::string dir_, path_;
};

NewRecord Investigation(const std::string& tenant, const std::string& question) {
  NewRecord r;
  r.kind = kKindInvestigation;
  r.tenant = tenant;
  r.content = {{"credential", "ops"}, {"question", question}, {"outcome", "accepted"}};
  return r;
}

std::unique_ptr<RecordLog> OpenLog(const TempState& state) {
  Result<std::unique_ptr<RecordLog>> log = RecordLog::Open(state.path());
  EXPECT_TRUE(log.ok()) << log.status().ToString();
  return std::move(log).value();
}

std::vector<std::string> AppendMany(RecordLog& log, int n) {
  std::vector<std::string> ids;
  for (int i = 1; i <= n; ++i) {
    Result<std::string> id =
        log.Append(Investigation(i % 2 ? "acme" : "globex", "question " + std::to_string(i)));
    EXPECT_TRUE(id.ok()) << id.status().ToString();
    ids.push_back(*id);
  }
  return ids;
}

// "seq reason" of each finding, in order.
std::vector<std::string> Findings(RecordLog& log) {
  Result<VerifyReport> v = log.Verify();
  EXPECT_TRUE(v.ok()) << v.status().ToString();
  std::vector<std::string> out;
  for (const RecordFinding& f : v->findings) out.push_back(std::to_string(f.seq) + " " + f.reason);
  EXPECT_EQ(v->ok, out.empty());
  return out;
}

TEST(RecordLog, AppendsAChainWhoseHashesRecompute) {
  TempState state;
  auto log = OpenLog(state);
  std::vector<std::string> ids = AppendMany(*log, 3);
  ASSERT_EQ(ids.size(), 3u);
  EXPECT_EQ(ids[0].rfind("inv-", 0), 0u);
  EXPECT_EQ(ids[0].size(), 4u + 16u);
  EXPECT_NE(ids[0], ids[1]);

  Result<VerifyReport> v = log->Verify();
  ASSERT_TRUE(v.ok());
  EXPECT_TRUE(v->ok);
  EXPECT_EQ(v->records, 3);
  EXPECT_EQ(v->tip_seq, 3);

  // The hash is exactly SHA-256(prev_hash || canonical envelope), from "genesis".
  Result<StoredRecord> first = log->Get(ids[0], std::nullopt);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->seq, 1);
  EXPECT_EQ(first->prev_hash, "genesis");
  std::string bytes, error;
  ASSERT_TRUE(EnvelopeBytes(1, first->id, first->kind, first->tenant, first->created_at,
                            first->content.dump(), &bytes, &error))
      << error;
  EXPECT_EQ(bytes, first->record);
  EXPECT_EQ(bytes.rfind("{\"content\":{\"credential\":\"ops\",\"outcome\":\"accepted\",", 0), 0u)
      << bytes;
  Sha256 sha;
  EXPECT_EQ(first->hash, sha.Hex("genesis", bytes));
  Result<StoredRecord> second = log->Get(ids[1], std::nullopt);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->prev_hash, first->hash);
  EXPECT_EQ(second->tenant, "globex");
  EXPECT_EQ(second->content["question"], "question 2");
  EXPECT_EQ(v->tip_hash, log->Get(ids[2], std::nullopt)->hash);
}

// The acceptance test: one record edited, one deleted, two swapped; verify names each.
TEST(RecordLog, VerifyNamesAnEditedADeletedAndTwoSwappedRecords) {
  TempState state;
  auto log = OpenLog(state);
  std::vector<std::string> ids = AppendMany(*log, 10);
  ASSERT_TRUE(Findings(*log).empty());

  state.Sql(
      "UPDATE investigation_records SET record = replace(record, 'question 2', 'question X') "
      "WHERE seq = 2");
  state.Sql("DELETE FROM investigation_records WHERE seq = 5");
  // Swap everything but the seq of records 7 and 9.
  state.Sql(
      "CREATE TEMP TABLE s AS SELECT * FROM investigation_records WHERE seq IN (7, 9);"
      "UPDATE investigation_records SET id = 'tmp-' || seq WHERE seq IN (7, 9);"
      "UPDATE investigation_records SET (id, kind, tenant, created_at, record, prev_hash, hash) "
      "= (SELECT id, kind, tenant, created_at, record, prev_hash, hash FROM s "
      "WHERE s.seq = 16 - investigation_records.seq) WHERE seq IN (7, 9);");

  Result<VerifyReport> v = log->Verify();
  ASSERT_TRUE(v.ok());
  EXPECT_FALSE(v->ok);
  EXPECT_EQ(v->records, 9);
  EXPECT_EQ(Findings(*log),
            (std::vector<std::string>{"2 record_altered", "6 record_missing",
                                      "7 record_out_of_order", "9 record_out_of_order"}));
  EXPECT_EQ(v->findings[0].id, ids[1]);
  EXPECT_NE(v->findings[0].detail.find("hash does not recompute"), std::string::npos);
  EXPECT_NE(v->findings[1].detail.find("seq 5 is missing"), std::string::npos);
  EXPECT_EQ(v->findings[2].id, ids[8]);  // record 9 now sits at seq 7
  EXPECT_NE(v->findings[2].detail.find("written as seq 9"), std::string::npos);
}

TEST(RecordLog, EachTamperingAloneIsFound) {
  struct Case {
    const char* sql;
    std::vector<std::string> expected;
  };
  const std::vector<Case> cases = {
      {"UPDATE investigation_records SET tenant = 'globex' WHERE seq = 3", {"3 record_altered"}},
      {"UPDATE investigation_records SET record = '{not json' WHERE seq = 3", {"3 record_altered"}},
      {"UPDATE investigation_records SET hash = replace(hash, substr(hash, 1, 1), 'x') WHERE "
       "seq = 3",
       {"3 record_altered"}},
      {"DELETE FROM investigation_records WHERE seq = 1", {"2 record_missing"}},
      {"DELETE FROM investigation_records WHERE seq IN (2, 3)", {"4 record_missing"}},
      {"UPDATE investigation_records SET prev_hash = 'genesis' WHERE seq = 4",
       {"4 record_altered"}},
      // The newest record deleted: not detectable (the documented tail caveat).
      {"DELETE FROM investigation_records WHERE seq = 5", {}},
  };
  for (const Case& c : cases) {
    TempState state;
    auto log = OpenLog(state);
    AppendMany(*log, 5);
    state.Sql(c.sql);
    EXPECT_EQ(Findings(*log), c.expected) << c.sql;
  }
}

TEST(RecordLog, ARecordRewrittenWithARecomputedHashBreaksTheNextLink) {
  TempState state;
  auto log = OpenLog(state);
  std::vector<std::string> ids = AppendMany(*log, 4);
  Result<StoredRecord> r = log->Get(ids[1], std::nullopt);
  ASSERT_TRUE(r.ok());
  json content = r->content;
  content["outcome"] = "insufficient_evidence";
  std::string bytes, error;
  ASSERT_TRUE(
      EnvelopeBytes(2, r->id, r->kind, r->tenant, r->created_at, content.dump(), &bytes, &error));
  Sha256 sha;
  state.Sql("UPDATE investigation_records SET record = '" + bytes + "', hash = '" +
            sha.Hex(r->prev_hash, bytes) + "' WHERE seq = 2");
  EXPECT_EQ(Findings(*log), std::vector<std::string>{"3 link_broken"});
}

TEST(RecordLog, AnotherTenantsRecordIsNotFoundLikeAnUnknownOne) {
  TempState state;
  auto log = OpenLog(state);
  std::vector<std::string> ids = AppendMany(*log, 4);  // acme, globex, acme, globex
  Result<StoredRecord> own = log->Get(ids[0], std::string("acme"));
  ASSERT_TRUE(own.ok());
  Result<StoredRecord> other = log->Get(ids[1], std::string("acme"));
  Result<StoredRecord> unknown = log->Get("inv-0000000000000000", std::string("acme"));
  ASSERT_FALSE(other.ok());
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(other.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(unknown.status().code(), StatusCode::kNotFound);
  // The messages name the id asked for and nothing else.
  EXPECT_EQ(other.status().message(), "no record " + ids[1]);
  EXPECT_EQ(unknown.status().message(), "no record inv-0000000000000000");
  EXPECT_FALSE(log->Get("'; DROP TABLE x", std::nullopt).ok());

  ListOptions options;
  options.tenant = "acme";
  Result<std::vector<StoredRecord>> acme = log->List(options);
  ASSERT_TRUE(acme.ok());
  ASSERT_EQ(acme->size(), 2u);
  EXPECT_EQ((*acme)[0].id, ids[2]);  // newest first
  EXPECT_EQ((*acme)[1].id, ids[0]);
  options.tenant = "initech";
  EXPECT_TRUE(log->List(options)->empty());
  options.tenant.reset();
  options.limit = 3;
  EXPECT_EQ(log->List(options)->size(), 3u);
  options.before_seq = 2;
  ASSERT_EQ(log->List(options)->size(), 1u);
  options.before_seq.reset();
  options.kind = kKindAccess;
  EXPECT_TRUE(log->List(options)->empty());
}

TEST(RecordLog, ListAndGetSurviveACorruptRecord) {
  TempState state;
  auto log = OpenLog(state);
  std::vector<std::string> ids = AppendMany(*log, 2);
  state.Sql("UPDATE investigation_records SET record = '[[[[' WHERE seq = 1");
  Result<std::vector<StoredRecord>> all = log->List(ListOptions{});
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 2u);
  EXPECT_TRUE((*all)[1].content.is_null());
  EXPECT_EQ(RecordSummaryJson((*all)[1])["content_unreadable"], true);
  EXPECT_TRUE(log->Get(ids[0], std::nullopt).ok());
  EXPECT_EQ(Findings(*log), std::vector<std::string>{"1 record_altered"});
}

TEST(RecordLog, ReadOnlyOpenNeverCreatesAnything) {
  TempState state;
  EXPECT_EQ(RecordLog::OpenReadOnly(state.path()).status().code(), StatusCode::kNotFound);
  state.MakeParentDir();
  state.Sql("CREATE TABLE spend_meta (key TEXT)");  // a state database without records
  Result<std::unique_ptr<RecordLog>> log = RecordLog::OpenReadOnly(state.path());
  ASSERT_TRUE(log.ok()) << log.status().ToString();
  Result<VerifyReport> v = (*log)->Verify();
  ASSERT_TRUE(v.ok());
  EXPECT_FALSE(v->table_exists);
  EXPECT_TRUE(v->ok);
  EXPECT_TRUE((*log)->List(ListOptions{})->empty());
  EXPECT_FALSE((*log)->Append(Investigation("acme", "q")).ok());
}

TEST(RecordLog, TwoConnectionsAppendToOneChain) {
  TempState state;
  auto a = OpenLog(state);
  auto b = OpenLog(state);
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(a->Append(Investigation("acme", "a")).ok());
    ASSERT_TRUE(b->Append(Investigation("acme", "b")).ok());
  }
  Result<VerifyReport> v = a->Verify();
  ASSERT_TRUE(v.ok());
  EXPECT_TRUE(v->ok);
  EXPECT_EQ(v->records, 10);
}

TEST(RecordLog, DigestOnlyKeepsTheCanonicalHashNotTheValue) {
  TempState state;
  auto log = OpenLog(state);
  NewRecord r;
  r.kind = kKindAccess;
  r.tenant = "acme";
  r.digest_only = json{{"b", 1}, {"a", "é"}};
  r.digest_field = "arguments_sha256";
  Result<std::string> id = log->Append(r);
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(id->rfind("acc-", 0), 0u);
  Result<StoredRecord> stored = log->Get(*id, std::nullopt);
  ASSERT_TRUE(stored.ok());
  Sha256 sha;
  EXPECT_EQ(stored->content["arguments_sha256"], sha.Hex("{\"a\":\"\\u00e9\",\"b\":1}"));
  EXPECT_EQ(stored->record.find("\"b\":1"), std::string::npos);
}

TEST(RecordWriter, AppendsInTheBackgroundAndMarksWhatItDropped) {
  TempState state;
  auto log = OpenLog(state);
  std::vector<std::string> warnings;
  RecordWriterOptions options;
  options.capacity = 2;
  options.batch_size = 100;
  options.flush_interval = std::chrono::milliseconds(60000);  // only Flush writes
  options.warn = [&](const std::string& m) { warnings.push_back(m); };
  RecordWriter writer(log.get(), options);
  int accepted = 0;
  for (int i = 0; i < 5; ++i) accepted += writer.Offer(Investigation("acme", "q")) ? 1 : 0;
  EXPECT_EQ(accepted, 2);
  EXPECT_EQ(writer.dropped(), 3u);
  writer.Flush();
  EXPECT_EQ(writer.appended(), 2u);
  ListOptions all;
  all.kind = "";
  Result<std::vector<StoredRecord>> rows = log->List(all);
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 3u);
  const StoredRecord& marker = rows->back();  // oldest: the marker goes first
  EXPECT_EQ(marker.kind, kKindDropped);
  EXPECT_EQ(marker.tenant, "*");
  EXPECT_EQ(marker.content["dropped"], 3);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("3 access record(s) dropped"), std::string::npos);
  // Stop appends what is still queued.
  EXPECT_TRUE(writer.Offer(Investigation("acme", "last")));
  writer.Stop();
  EXPECT_FALSE(writer.Offer(Investigation("acme", "after stop")));
  EXPECT_EQ(log->List(all)->size(), 4u);
  EXPECT_TRUE(log->Verify()->ok);
}

TEST(AccessRecord, RecordsToolStatusRowsAndOnlyADigestOfTheArguments) {
  const json request = {
      {"jsonrpc", "2.0"},
      {"id", 7},
      {"method", "tools/call"},
      {"params", {{"name", "audit_query"}, {"arguments", {{"request_id", "r"}}}}}};
  json ok = {{"result", {{"content", json::array()}}}};
  NewRecord r =
      mcp::AccessRecord(test_support::TestScopes::Tenant("acme"), "alice", request, ok, 3);
  EXPECT_EQ(r.kind, kKindAccess);
  EXPECT_EQ(r.tenant, "acme");
  EXPECT_EQ(r.content["tool"], "audit_query");
  EXPECT_EQ(r.content["credential"], "alice");
  EXPECT_EQ(r.content["rows"], 3);
  EXPECT_EQ(r.content["status"], "ok");
  EXPECT_FALSE(r.content.contains("arguments"));
  EXPECT_EQ(*r.digest_only, (json{{"request_id", "r"}}));
  EXPECT_EQ(r.digest_field, "arguments_sha256");

  json tool_error = {{"result", {{"isError", true}, {"content", json::array()}}}};
  EXPECT_EQ(
      mcp::AccessRecord(test_support::TestScopes::AllTenants(), "local", request, tool_error, 0)
          .content["status"],
      "tool_error");
  EXPECT_EQ(
      mcp::AccessRecord(test_support::TestScopes::AllTenants(), "local", request, tool_error, 0)
          .tenant,
      "*");
  json rpc_error = {{"error", {{"code", -32602}, {"message", "bad"}}}};
  NewRecord e =
      mcp::AccessRecord(test_support::TestScopes::Tenant("acme"), "alice", request, rpc_error, 0);
  EXPECT_EQ(e.content["status"], "rpc_error");
  EXPECT_EQ(e.content["error_code"], -32602);
  EXPECT_EQ(e.content["rows"], 0);

  EXPECT_EQ(mcp::RowsReturned({{"row", json::object()}}), 1);
  EXPECT_EQ(mcp::RowsReturned({{"timeline", json::array({1, 2})}}), 2);
  EXPECT_EQ(mcp::RowsReturned({{"rows", json::array({1, 2, 3})}, {"matches", json::array()}}), 3);
  EXPECT_EQ(mcp::RowsReturned({{"rows", 5}}), 0);  // topology's per-node counts are not rows
  EXPECT_EQ(mcp::RowsReturned(json::array()), 0);
}

}  // namespace
}  // namespace fasten::record
