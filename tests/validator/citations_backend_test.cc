// The citation validator on every reader backend (SQLite, Postgres TEXT and TIMESTAMPTZ): the
// same verdicts and the same number of store round trips.
#include <gtest/gtest.h>

#include "store/reader.h"
#include "support/store_backend.h"
#include "support/test_scopes.h"
#include "test_store.h"
#include "validator/citations.h"

namespace fasten {
namespace {

using testing::BackendParam;
using testing::MakeRow;
using testing::Seal;
using testing::StoreBackend;

class CitationBackends : public ::testing::TestWithParam<BackendParam> {
 protected:
  // Ten sealed rows on node "n": seqs 1-6 of acme, 7-10 of globex.
  void SetUp() override {
    store_ = StoreBackend::Create(GetParam());
    store_->Exec(store_->SpecDdl("audit_log"));
    std::string prev = "genesis";
    for (int64_t seq = 1; seq <= 10; ++seq) {
      AuditRow r = MakeRow("n", seq);
      r.tenant_id.Set(seq <= 6 ? "acme" : "globex");
      Seal(&r, prev);
      prev = r.hash;
      rows_.push_back(r);
    }
    store_->Insert("audit_log", rows_);
  }

  Verdict Check(const std::vector<int64_t>& seqs, const std::string& tenant) {
    Dsn dsn = ParseDsn(store_->Dsn()).value();
    std::unique_ptr<AuditReader> reader;
    EXPECT_TRUE(AuditReader::Open(dsn, &reader).ok());
    Answer a;
    for (int64_t seq : seqs) {
      Citation c{CitationStream::kAudit, seq, seq > 0 ? rows_[seq - 1].hash : std::string(64, 'f')};
      if (seq < 0) c.seq = -seq;  // a fabricated hash for a real seq
      a.claims.push_back({"A row was written.", {c}, IntegrityPolarity::kNone, std::nullopt});
    }
    Verdict v;
    ValidateAnswer(test_support::TestScopes::Tenant(tenant), a,
                   StoreView{reader.get(), nullptr, nullptr, "", ""}, CitationCheckOptions{nullptr},
                   &v);
    EXPECT_TRUE(v.error.ok()) << v.error.message();
    return v;
  }

  std::unique_ptr<StoreBackend> store_;
  std::vector<AuditRow> rows_;
};

std::map<std::string, int64_t> Rejections(const Verdict& v) {
  return v.rejections;
}

TEST_P(CitationBackends, GivesTheSameVerdictsAndRoundTripsOnEveryBackend) {
  Verdict ok = Check({3, 5}, "acme");
  EXPECT_TRUE(ok.accepted) << RepairText(ok);
  EXPECT_EQ(ok.store_round_trips, 1);        // the rows and their predecessors in one statement
  Verdict chain = Check({1, 2, 3}, "acme");  // every predecessor at hand
  EXPECT_TRUE(chain.accepted);
  EXPECT_EQ(chain.store_round_trips, 1);
  Verdict foreign = Check({8}, "acme");
  EXPECT_EQ(Rejections(foreign), (std::map<std::string, int64_t>{{"not_found", 1}}));
  EXPECT_TRUE(Check({8}, "globex").accepted);  // its link runs through an acme row
  EXPECT_EQ(Rejections(Check({-4}, "acme")), (std::map<std::string, int64_t>{{"not_found", 1}}));

  store_->Exec("DELETE FROM audit_log WHERE monotonic_seq = 4");
  store_->Exec("UPDATE audit_log SET code = 'FORGED' WHERE monotonic_seq = 6");
  Verdict broken = Check({5, 6}, "acme");
  EXPECT_FALSE(broken.accepted);
  EXPECT_EQ(Rejections(broken),
            (std::map<std::string, int64_t>{{"chain_break", 1}, {"hash_mismatch", 1}}));
  EXPECT_EQ(broken.store_round_trips, 2);  // the batch, then one FindPredecessor (the gap)
}

INSTANTIATE_TEST_SUITE_P(Backends, CitationBackends,
                         ::testing::Values(BackendParam{false, false}, BackendParam{true, false},
                                           BackendParam{true, true}),
                         [](const ::testing::TestParamInfo<BackendParam>& info) {
                           return info.param.Name();
                         });

}  // namespace
}  // namespace fasten
