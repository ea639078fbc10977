// Prices (docs/providers.md §6), the spend ledger (a SQLite state database of our own) and the
// per-tenant daily caps (docs/investigate.md).
#include "llm/prices.h"
#include "llm/spend_ledger.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

namespace fasten::llm {
namespace {

// A fresh directory, removed with everything in it at the end of the test.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "spend_test.XXXXXX").string();
    char* made = mkdtemp(tmpl.data());
    EXPECT_NE(made, nullptr);
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

// Sets (or unsets, with nullopt) an environment variable for one scope.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, std::optional<std::string> value) : name_(name) {
    if (const char* old = getenv(name)) old_ = old;
    if (value) {
      setenv(name, value->c_str(), 1);
    } else {
      unsetenv(name);
    }
  }
  ~ScopedEnv() {
    if (old_) {
      setenv(name_, old_->c_str(), 1);
    } else {
      unsetenv(name_);
    }
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

constexpr char kTable[] = R"({
  "pricing_version": "test-1",
  "currency": "USD",
  "models": {
    "anthropic/claude-sonnet-4-6": {"input_per_mtok": 3.00, "output_per_mtok": 15.00,
      "cache_write_5m_per_mtok": 3.75, "cache_write_1h_per_mtok": 6.00, "cache_read_per_mtok": 0.30},
    "openai/gpt-4.1": {"input_per_mtok": 2.00, "cached_input_per_mtok": 0.50, "output_per_mtok": 8.00},
    "openai/no-cache-rate": {"input_per_mtok": 1.00, "output_per_mtok": 2.00},
    "anthropic/long": {"input_per_mtok": 3.00, "output_per_mtok": 15.00, "cache_read_per_mtok": 0.30,
      "long_context": {"threshold_tokens": 200000, "input_per_mtok": 6.00, "output_per_mtok": 22.50}},
    "vllm/*": {"input_per_mtok": 0, "output_per_mtok": 0},
    "vllm/priced-model": {"input_per_mtok": 1.00, "output_per_mtok": 1.00},
    "ollama/*": {"input_per_mtok": 0, "output_per_mtok": 0}
  }
})";

PriceTable TestTable() {
  Result<PriceTable> t = PriceTable::Parse(kTable, "test");
  EXPECT_TRUE(t.ok()) << t.status().ToString();
  return t.ok() ? std::move(t).value() : PriceTable();
}

Usage Known(int64_t input, int64_t output, int64_t cache_read = 0, int64_t cw5m = 0,
            int64_t cw1h = 0) {
  Usage u;
  u.input = input;
  u.output = output;
  u.cache_read = cache_read;
  u.cache_write_5m = cw5m;
  u.cache_write_1h = cw1h;
  u.known = true;
  return u;
}

// ---------------------------------------------------------------------------------------------
// PriceTable

TEST(PriceTable, ParseErrorsNameTheProblem) {
  struct Case {
    const char* text;
    const char* needle;
  };
  const Case cases[] = {
      {"{not json", "not valid JSON"},
      {"[]", "top level must be an object"},
      {R"({"currency": "USD", "models": {}})", "pricing_version is missing"},
      {R"({"pricing_version": "", "currency": "USD", "models": {}})", "pricing_version"},
      {R"({"pricing_version": "v", "models": {}})", "currency is missing"},
      {R"({"pricing_version": "v", "currency": "EUR", "models": {}})", "'EUR' is not supported"},
      {R"({"pricing_version": "v", "currency": "USD"})", "models must be an object"},
      {R"({"pricing_version": "v", "currency": "USD", "models": {"a/b":
          {"input_per_mtok": -1, "output_per_mtok": 1}}})",
       "input_per_mtok must be a finite number >= 0"},
      {R"({"pricing_version": "v", "currency": "USD", "models": {"a/b":
          {"input_per_mtok": 1, "output_per_mtok": 1, "cache_read_per_mtok": -0.5}}})",
       "cache_read_per_mtok must be a finite number >= 0"},
      {R"({"pricing_version": "v", "currency": "USD", "models": {"a/b":
          {"input_per_mtok": "3", "output_per_mtok": 1}}})",
       "must be a number"},
      {R"({"pricing_version": "v", "currency": "USD", "models": {"a/b": {"input_per_mtok": 1}}})",
       "needs input_per_mtok and output_per_mtok"},
      {R"({"pricing_version": "v", "currency": "USD", "models": {"a/b":
          {"input_per_mtok": 1, "output_per_mtok": 1, "input_per_mtoks": 2}}})",
       "unknown field models[\"a/b\"].input_per_mtoks"},
      {R"({"pricing_version": "v", "currency": "USD", "models": {"no-provider":
          {"input_per_mtok": 1, "output_per_mtok": 1}}})",
       "must be \"<provider>/<model>\""},
      {R"({"pricing_version": "v", "currency": "USD", "models": {"openai/gpt-*":
          {"input_per_mtok": 1, "output_per_mtok": 1}}})",
       "'*' is only allowed as the whole model part"},
      {R"({"pricing_version": "v", "currency": "USD", "models": {"a/b":
          {"input_per_mtok": 1, "output_per_mtok": 1, "cache_read_per_mtok": 0.1,
           "cached_input_per_mtok": 0.2}}})",
       "both cache_read_per_mtok and cached_input_per_mtok"},
      {R"({"pricing_version": "v", "currency": "USD", "models": {"a/b":
          {"input_per_mtok": 1, "output_per_mtok": 1, "long_context": {"input_per_mtok": 2}}}})",
       "needs threshold_tokens"},
      {R"({"pricing_version": "v", "currency": "USD", "models": {"a/b":
          {"input_per_mtok": 1, "output_per_mtok": 1,
           "long_context": {"threshold_tokens": 10, "output_per_mtok": -2}}}})",
       "long_context.output_per_mtok must be a finite number >= 0"},
      {R"({"pricing_version": "v", "currency": "USD", "modles": {}})", "unknown field 'modles'"},
  };
  for (const Case& c : cases) {
    Result<PriceTable> t = PriceTable::Parse(c.text, "prices.json");
    ASSERT_FALSE(t.ok()) << c.text;
    EXPECT_EQ(t.status().code(), StatusCode::kInvalidArgument) << c.text;
    EXPECT_NE(t.status().message().find(c.needle), std::string::npos)
        << c.text << "\n  got: " << t.status().message();
    EXPECT_NE(t.status().message().find("prices.json"), std::string::npos)
        << "the origin is named: " << t.status().message();
  }
}

TEST(PriceTable, ParsesVersionAndComments) {
  Result<PriceTable> t = PriceTable::Parse(
      R"({"pricing_version": "2026-11-22", "effective_date": "2026-11-22", "currency": "USD",
          "comment": "free text", "_note": 1,
          "models": {"_comment": "ignored", "a/b": {"input_per_mtok": 1, "output_per_mtok": 2,
                                                    "comment": "per entry"}}})",
      "inline");
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(t->version(), "2026-11-22");
  EXPECT_EQ(t->currency(), "USD");
  EXPECT_EQ(t->origin(), "inline");
  EXPECT_EQ(t->size(), 1u);
}

TEST(PriceTable, ExactEntryBeatsWildcard) {
  PriceTable t = TestTable();
  std::optional<ModelPrice> exact = t.Find("vllm", "priced-model");
  ASSERT_TRUE(exact);
  EXPECT_EQ(exact->input, 1.0);
  std::optional<ModelPrice> wild = t.Find("vllm", "meta-llama/Llama-3.1-8B-Instruct");
  ASSERT_TRUE(wild);
  EXPECT_EQ(wild->input, 0.0);
  EXPECT_EQ(wild->output, 0.0);
  // No wildcard for anthropic: an unknown model is unpriced, not free.
  EXPECT_FALSE(t.Find("anthropic", "claude-unknown-9"));
  EXPECT_FALSE(t.Find("llamacpp", "anything"));  // not in this table
  EXPECT_FALSE(t.Find("", "gpt-4.1"));
  EXPECT_FALSE(t.Find("openai", ""));
  // The provider key is the provider kind: an openai model is not priced for vllm.
  EXPECT_FALSE(t.Find("openai", "priced-model"));
}

TEST(PriceTable, AnthropicCostWithCacheTokens) {
  PriceTable t = TestTable();
  // 1000 uncached in, 3000 5-minute writes, 1000 1-hour writes, 20000 cache reads, 500 out:
  // (1000*3 + 3000*3.75 + 1000*6 + 20000*0.30 + 500*15) / 1e6
  // = (3000 + 11250 + 6000 + 6000 + 7500) / 1e6 = 0.03375
  std::optional<double> c =
      t.Cost("anthropic", "claude-sonnet-4-6", Known(1000, 500, 20000, 3000, 1000));
  ASSERT_TRUE(c);
  EXPECT_NEAR(*c, 0.03375, 1e-12);
}

TEST(PriceTable, OpenAiCostWithCachedInput) {
  PriceTable t = TestTable();
  // prompt_tokens 10000 of which cached_tokens 4000 -> input 6000, cache_read 4000; 2000 out:
  // (6000*2.00 + 4000*0.50 + 2000*8.00) / 1e6 = (12000 + 2000 + 16000) / 1e6 = 0.03
  std::optional<double> c = t.Cost("openai", "gpt-4.1", Known(6000, 2000, 4000));
  ASSERT_TRUE(c);
  EXPECT_NEAR(*c, 0.03, 1e-12);
  // Reasoning tokens are informational (already inside output): they change nothing.
  Usage with_reasoning = Known(6000, 2000, 4000);
  with_reasoning.reasoning = 1500;
  EXPECT_NEAR(*t.Cost("openai", "gpt-4.1", with_reasoning), 0.03, 1e-12);
}

TEST(PriceTable, MissingCacheRateIsChargedAtTheInputRate) {
  PriceTable t = TestTable();
  std::optional<ModelPrice> p = t.Find("openai", "no-cache-rate");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->cache_read, 1.0);
  // (1000*1 + 1000*1 + 1000*2) / 1e6
  EXPECT_NEAR(*t.Cost("openai", "no-cache-rate", Known(1000, 1000, 1000)), 0.004, 1e-12);
}

TEST(PriceTable, SelfHostedWildcardIsAnExplicitZero) {
  PriceTable t = TestTable();
  std::optional<double> c = t.Cost("ollama", "llama3.1:8b", Known(50000, 2000));
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(*c, 0.0);
}

TEST(PriceTable, UnpricedModelOrUnknownUsageIsUnknownNotZero) {
  PriceTable t = TestTable();
  EXPECT_FALSE(t.Cost("anthropic", "claude-unknown-9", Known(1000, 100)).has_value());
  EXPECT_FALSE(t.Cost("openai-compatible", "x", Known(1000, 100)).has_value());
  Usage unknown;  // known = false
  EXPECT_FALSE(t.Cost("anthropic", "claude-sonnet-4-6", unknown).has_value());
  // ... even on a free model: zero tokens reported is not "unknown usage" unless it says so.
  EXPECT_FALSE(t.Cost("ollama", "llama3", unknown).has_value());
  Usage negative = Known(-5, 10);
  EXPECT_FALSE(t.Cost("anthropic", "claude-sonnet-4-6", negative).has_value());
}

TEST(PriceTable, LongContextRatesAboveTheThreshold) {
  PriceTable t = TestTable();
  // 150000 + 40000 cached = 190000 prompt tokens: base rates.
  // (150000*3 + 40000*0.30 + 1000*15) / 1e6 = (450000 + 12000 + 15000) / 1e6
  EXPECT_NEAR(*t.Cost("anthropic", "long", Known(150000, 1000, 40000)), 0.477, 1e-12);
  // 180000 + 40000 = 220000 > 200000: long-context rates; cache_read keeps its base rate.
  // (180000*6 + 40000*0.30 + 1000*22.5) / 1e6 = (1080000 + 12000 + 22500) / 1e6
  EXPECT_NEAR(*t.Cost("anthropic", "long", Known(180000, 1000, 40000)), 1.1145, 1e-12);
  // Exactly at the threshold: still base.
  EXPECT_NEAR(*t.Cost("anthropic", "long", Known(200000, 0)), 0.6, 1e-12);
  // Find gives the base rates (used for the pre-call estimate).
  EXPECT_EQ(t.Find("anthropic", "long")->input, 3.0);
}

TEST(PriceTable, ShippedTableLoads) {
  const std::string path = std::string(FASTEN_SOURCE_DIR) + "/data/prices.json";
  Result<PriceTable> t = PriceTable::Load(path);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(t->version(), "2026-11-22");
  EXPECT_EQ(t->currency(), "USD");
  EXPECT_EQ(t->origin(), path);
  for (const char* m : {"claude-sonnet-4-6", "claude-haiku-4-5", "claude-opus-4-6"}) {
    EXPECT_TRUE(t->Find("anthropic", m)) << m;
  }
  for (const char* m : {"gpt-4.1", "gpt-4.1-mini", "gpt-5-mini"}) {
    EXPECT_TRUE(t->Find("openai", m)) << m;
  }
  EXPECT_EQ(t->Find("anthropic", "claude-sonnet-4-6")->cache_write_1h, 6.0);
  EXPECT_EQ(t->Find("openai", "gpt-5-mini")->cache_read, 0.025);
  for (const char* p : {"ollama", "vllm", "llamacpp", "openai-compatible"}) {
    std::optional<double> c = t->Cost(p, "some-local-model", Known(1000, 1000));
    ASSERT_TRUE(c.has_value()) << p;
    EXPECT_EQ(*c, 0.0) << p;
  }
  EXPECT_FALSE(t->Find("anthropic", "claude-not-in-table"));
}

TEST(PriceTable, DefaultFindsTheShippedTable) {
  ScopedEnv env("FASTEN_PRICES", std::nullopt);
  Result<PriceTable> t = PriceTable::Default();
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(t->version(), "2026-11-22");
}

TEST(PriceTable, DefaultHonoursFastenPrices) {
  TempDir dir;
  const std::string path = dir.File("mine.json");
  WriteFile(path, R"({"pricing_version": "operator-7", "currency": "USD", "models": {}})");
  {
    ScopedEnv env("FASTEN_PRICES", path);
    Result<PriceTable> t = PriceTable::Default();
    ASSERT_TRUE(t.ok()) << t.status().ToString();
    EXPECT_EQ(t->version(), "operator-7");
  }
  {
    // An explicit FASTEN_PRICES that cannot be read is an error, not a silent fallback.
    ScopedEnv env("FASTEN_PRICES", dir.File("missing.json"));
    Result<PriceTable> t = PriceTable::Default();
    ASSERT_FALSE(t.ok());
    EXPECT_NE(t.status().message().find("FASTEN_PRICES"), std::string::npos);
    EXPECT_NE(t.status().message().find(dir.File("missing.json")), std::string::npos);
  }
  {
    WriteFile(path, R"({"currency": "USD", "models": {}})");
    ScopedEnv env("FASTEN_PRICES", path);
    Result<PriceTable> t = PriceTable::Default();
    ASSERT_FALSE(t.ok());
    EXPECT_NE(t.status().message().find("pricing_version is missing"), std::string::npos);
  }
}

// ---------------------------------------------------------------------------------------------
// SpendLedger

SpendRecord Rec(const std::string& tenant, const std::string& day, const std::string& model,
                std::optional<double> cost, Usage usage = Known(100, 10, 5, 3, 2)) {
  SpendRecord r;
  r.tenant = tenant;
  r.day = day;
  r.provider = "anthropic";
  r.model = model;
  r.pricing_version = "test-1";
  r.usage = usage;
  r.cost_usd = cost;
  return r;
}

std::unique_ptr<SpendLedger> OpenOrDie(const std::string& path) {
  Result<std::unique_ptr<SpendLedger>> l = SpendLedger::Open(path);
  EXPECT_TRUE(l.ok()) << l.status().ToString();
  return l.ok() ? std::move(l).value() : nullptr;
}

TEST(SpendLedger, RecordsAndTotals) {
  TempDir dir;
  auto ledger = OpenOrDie(dir.File("state.db"));
  ASSERT_TRUE(ledger);
  ASSERT_TRUE(ledger->Record(Rec("acme", "2026-11-22", "claude-sonnet-4-6", 0.25)).ok());
  ASSERT_TRUE(ledger->Record(Rec("acme", "2026-11-22", "claude-sonnet-4-6", 0.50)).ok());
  ASSERT_TRUE(ledger->Record(Rec("acme", "2026-11-22", "claude-haiku-4-5", 0.125)).ok());
  ASSERT_TRUE(ledger->Record(Rec("acme", "2026-11-23", "claude-sonnet-4-6", 1.0)).ok());
  ASSERT_TRUE(ledger->Record(Rec("beta", "2026-11-22", "claude-sonnet-4-6", 2.0)).ok());

  Result<double> day = ledger->DaySpend("acme", "2026-11-22");
  ASSERT_TRUE(day.ok());
  EXPECT_NEAR(*day, 0.875, 1e-12);
  EXPECT_NEAR(ledger->DaySpend("acme", "2026-11-23").value(), 1.0, 1e-12);
  EXPECT_EQ(ledger->DaySpend("acme", "2026-11-24").value(), 0.0);
  EXPECT_EQ(ledger->DaySpend("nobody", "2026-11-22").value(), 0.0);

  Result<std::vector<SpendTotals>> all = ledger->Totals("", "", "");
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  ASSERT_EQ(all->size(), 4u);  // (acme, 22, haiku), (acme, 22, sonnet), (acme, 23), (beta, 22)
  const SpendTotals& s = (*all)[1];
  EXPECT_EQ(s.tenant, "acme");
  EXPECT_EQ(s.day, "2026-11-22");
  EXPECT_EQ(s.provider, "anthropic");
  EXPECT_EQ(s.model, "claude-sonnet-4-6");
  EXPECT_EQ(s.calls, 2);
  EXPECT_EQ(s.input, 200);
  EXPECT_EQ(s.output, 20);
  EXPECT_EQ(s.cache_read, 10);
  EXPECT_EQ(s.cache_write, 10);  // 5m + 1h
  EXPECT_NEAR(s.cost_usd, 0.75, 1e-12);
  EXPECT_EQ(s.unknown_cost_calls, 0);

  Result<std::vector<SpendTotals>> acme = ledger->Totals("acme", "", "");
  ASSERT_TRUE(acme.ok());
  EXPECT_EQ(acme->size(), 3u);
  for (const auto& r : *acme) EXPECT_EQ(r.tenant, "acme");

  Result<std::vector<SpendTotals>> from23 = ledger->Totals("", "2026-11-23", "");
  ASSERT_TRUE(from23.ok());
  ASSERT_EQ(from23->size(), 1u);
  EXPECT_EQ((*from23)[0].day, "2026-11-23");

  Result<std::vector<SpendTotals>> to22 = ledger->Totals("acme", "", "2026-11-22");
  ASSERT_TRUE(to22.ok());
  EXPECT_EQ(to22->size(), 2u);

  Result<std::vector<SpendTotals>> one_day = ledger->Totals("beta", "2026-11-22", "2026-11-22");
  ASSERT_TRUE(one_day.ok());
  ASSERT_EQ(one_day->size(), 1u);
  EXPECT_NEAR((*one_day)[0].cost_usd, 2.0, 1e-12);

  EXPECT_TRUE(ledger->Totals("", "2027-01-01", "")->empty());
}

TEST(SpendLedger, UnknownCostIsCountedNotAddedAsZero) {
  TempDir dir;
  auto ledger = OpenOrDie(dir.File("state.db"));
  ASSERT_TRUE(ledger);
  ASSERT_TRUE(ledger->Record(Rec("acme", "2026-11-22", "m", 0.5)).ok());
  ASSERT_TRUE(ledger->Record(Rec("acme", "2026-11-22", "m", std::nullopt)).ok());
  Usage unknown;  // the provider reported nothing
  ASSERT_TRUE(ledger->Record(Rec("acme", "2026-11-22", "m", std::nullopt, unknown)).ok());
  EXPECT_NEAR(ledger->DaySpend("acme", "2026-11-22").value(), 0.5, 1e-12);
  Result<std::vector<SpendTotals>> t = ledger->Totals("acme", "", "");
  ASSERT_TRUE(t.ok());
  ASSERT_EQ(t->size(), 1u);
  EXPECT_EQ((*t)[0].calls, 3);
  EXPECT_EQ((*t)[0].unknown_cost_calls, 2);
  EXPECT_NEAR((*t)[0].cost_usd, 0.5, 1e-12);

  // Only unknown calls: the known sum is 0 and every call is flagged, so "unknown" can be shown.
  ASSERT_TRUE(ledger->Record(Rec("beta", "2026-11-22", "m", std::nullopt)).ok());
  Result<std::vector<SpendTotals>> b = ledger->Totals("beta", "", "");
  ASSERT_TRUE(b.ok());
  ASSERT_EQ(b->size(), 1u);
  EXPECT_EQ((*b)[0].unknown_cost_calls, (*b)[0].calls);
}

TEST(SpendLedger, StoresUsageAndPricingVersionPerCall) {
  TempDir dir;
  const std::string path = dir.File("state.db");
  {
    auto ledger = OpenOrDie(path);
    ASSERT_TRUE(ledger);
    Usage u = Known(11, 22, 33, 44, 55);
    u.reasoning = 7;
    SpendRecord r = Rec("acme", "2026-11-22", "gpt-4.1", 0.01, u);
    r.provider = "openai";
    r.pricing_version = "2026-11-22";
    ASSERT_TRUE(ledger->Record(r).ok());
  }
  // Costs can be recomputed when prices change: every call keeps its usage and version.
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  sqlite3_stmt* s = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db,
                               "SELECT provider, model, pricing_version, usage_known, "
                               "input_tokens, output_tokens, cache_read_tokens, "
                               "cache_write_5m_tokens, cache_write_1h_tokens, reasoning_tokens, "
                               "cost_usd FROM spend_calls",
                               -1, &s, nullptr),
            SQLITE_OK);
  ASSERT_EQ(sqlite3_step(s), SQLITE_ROW);
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(s, 0)), "openai");
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(s, 1)), "gpt-4.1");
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(s, 2)), "2026-11-22");
  EXPECT_EQ(sqlite3_column_int(s, 3), 1);
  const int64_t want[] = {11, 22, 33, 44, 55, 7};
  for (int i = 0; i < 6; ++i) EXPECT_EQ(sqlite3_column_int64(s, 4 + i), want[i]) << i;
  EXPECT_DOUBLE_EQ(sqlite3_column_double(s, 10), 0.01);
  sqlite3_finalize(s);
  sqlite3_close(db);
}

TEST(SpendLedger, SpendSurvivesARestart) {
  TempDir dir;
  const std::string path = dir.File("state.db");
  {
    auto ledger = OpenOrDie(path);
    ASSERT_TRUE(ledger);
    ASSERT_TRUE(ledger->Record(Rec("acme", "2026-11-22", "m", 1.25)).ok());
  }
  {
    auto ledger = OpenOrDie(path);  // reopening never loses or duplicates the schema or rows
    ASSERT_TRUE(ledger);
    EXPECT_NEAR(ledger->DaySpend("acme", "2026-11-22").value(), 1.25, 1e-12);
    ASSERT_TRUE(ledger->Record(Rec("acme", "2026-11-22", "m", 0.75)).ok());
  }
  Result<std::unique_ptr<SpendLedger>> ro = SpendLedger::OpenReadOnly(path);
  ASSERT_TRUE(ro.ok()) << ro.status().ToString();
  EXPECT_NEAR((*ro)->DaySpend("acme", "2026-11-22").value(), 2.0, 1e-12);
  EXPECT_EQ((*ro)->Totals("", "", "")->at(0).calls, 2);
  Status st = (*ro)->Record(Rec("acme", "2026-11-22", "m", 1.0));
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("read-only"), std::string::npos);
}

TEST(SpendLedger, ReadOnlyOpenOfMissingOrForeignDatabase) {
  TempDir dir;
  Result<std::unique_ptr<SpendLedger>> missing = SpendLedger::OpenReadOnly(dir.File("none.db"));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_FALSE(std::filesystem::exists(dir.File("none.db"))) << "read-only open never creates";

  // A state database without spend tables (say, only another component's) reads as empty.
  const std::string other = dir.File("other.db");
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(other.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "CREATE TABLE transcripts (id INTEGER)", nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  Result<std::unique_ptr<SpendLedger>> ro = SpendLedger::OpenReadOnly(other);
  ASSERT_TRUE(ro.ok()) << ro.status().ToString();
  EXPECT_TRUE((*ro)->Totals("", "", "")->empty());
  EXPECT_EQ((*ro)->DaySpend("acme", "2026-11-22").value(), 0.0);
}

TEST(SpendLedger, CreatesItsDirectory) {
  TempDir dir;
  const std::string path = dir.path() + "/a/b/c/state.db";
  auto ledger = OpenOrDie(path);
  ASSERT_TRUE(ledger);
  ASSERT_TRUE(ledger->Record(Rec("acme", "2026-11-22", "m", 0.1)).ok());
  EXPECT_TRUE(std::filesystem::exists(path));
}

TEST(SpendLedger, ErrorsNameThePath) {
  TempDir dir;
  // The parent "directory" is a regular file.
  const std::string blocker = dir.File("file");
  WriteFile(blocker, "x");
  Result<std::unique_ptr<SpendLedger>> l = SpendLedger::Open(blocker + "/state.db");
  ASSERT_FALSE(l.ok());
  EXPECT_NE(l.status().message().find(blocker), std::string::npos) << l.status().message();

  // Not a SQLite database.
  const std::string garbage = dir.File("garbage.db");
  WriteFile(garbage, std::string(4096, 'g'));
  l = SpendLedger::Open(garbage);
  ASSERT_FALSE(l.ok());
  EXPECT_NE(l.status().message().find(garbage), std::string::npos) << l.status().message();
  l = SpendLedger::OpenReadOnly(garbage);
  ASSERT_FALSE(l.ok());
  EXPECT_NE(l.status().message().find(garbage), std::string::npos) << l.status().message();

  // Unwritable directory (root ignores permissions: skip that part there).
  if (geteuid() != 0) {
    const std::string locked = dir.File("locked");
    ASSERT_EQ(mkdir(locked.c_str(), 0500), 0);
    l = SpendLedger::Open(locked + "/state.db");
    ASSERT_FALSE(l.ok());
    EXPECT_NE(l.status().message().find(locked + "/state.db"), std::string::npos)
        << l.status().message();
    chmod(locked.c_str(), 0700);
  }
}

TEST(SpendLedger, RejectsBadRecords) {
  TempDir dir;
  auto ledger = OpenOrDie(dir.File("state.db"));
  ASSERT_TRUE(ledger);
  EXPECT_EQ(ledger->Record(Rec("acme", "22-11-2026", "m", 0.1)).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(ledger->Record(Rec("acme", "2026-11-22", "m", -1.0)).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(ledger->Record(Rec("acme", "2026-11-22", "m", std::nan(""))).code(),
            StatusCode::kInvalidArgument);
  EXPECT_TRUE(ledger->Totals("", "", "")->empty());
}

TEST(SpendLedger, ConcurrentRecordsFromThreads) {
  TempDir dir;
  auto ledger = OpenOrDie(dir.File("state.db"));
  ASSERT_TRUE(ledger);
  constexpr int kThreads = 8, kEach = 40;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      const std::string tenant = t % 2 ? "acme" : "beta";
      for (int i = 0; i < kEach; ++i) {
        if (!ledger->Record(Rec(tenant, "2026-11-22", "m", 0.001)).ok()) ++failures;
        if (i % 10 == 0 && !ledger->DaySpend(tenant, "2026-11-22").ok()) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  Result<std::vector<SpendTotals>> all = ledger->Totals("", "", "");
  ASSERT_TRUE(all.ok());
  int64_t calls = 0;
  for (const auto& r : *all) calls += r.calls;
  EXPECT_EQ(calls, kThreads * kEach);
  EXPECT_NEAR(ledger->DaySpend("acme", "2026-11-22").value(), 0.001 * kThreads * kEach / 2, 1e-9);
}

TEST(SpendLedger, TwoConnectionsToOneFile) {
  // serve and a concurrent `investigate` (or two serve processes) share the state file.
  TempDir dir;
  const std::string path = dir.File("state.db");
  auto a = OpenOrDie(path);
  auto b = OpenOrDie(path);
  ASSERT_TRUE(a && b);
  std::thread ta([&] {
    for (int i = 0; i < 25; ++i) EXPECT_TRUE(a->Record(Rec("acme", "2026-11-22", "m", 0.01)).ok());
  });
  std::thread tb([&] {
    for (int i = 0; i < 25; ++i) EXPECT_TRUE(b->Record(Rec("acme", "2026-11-22", "m", 0.01)).ok());
  });
  ta.join();
  tb.join();
  EXPECT_NEAR(a->DaySpend("acme", "2026-11-22").value(), 0.5, 1e-9);
}

// ---------------------------------------------------------------------------------------------
// CostCaps and CheckCap

TEST(CostCaps, DefaultAndPerTenant) {
  Result<CostCaps> caps =
      CostCaps::Parse(R"({"default_usd": 5.0, "tenants": {"acme": 20.0, "free": 0}})", "caps.json");
  ASSERT_TRUE(caps.ok()) << caps.status().ToString();
  EXPECT_EQ(caps->origin, "caps.json");
  EXPECT_EQ(caps->For("acme"), 20.0);
  EXPECT_EQ(caps->For("free"), 0.0);
  EXPECT_EQ(caps->For("other"), 5.0);

  Result<CostCaps> no_default = CostCaps::Parse(R"({"tenants": {"acme": 1.5}})", "c");
  ASSERT_TRUE(no_default.ok());
  EXPECT_EQ(no_default->For("acme"), 1.5);
  EXPECT_FALSE(no_default->For("other").has_value()) << "no default: uncapped";

  Result<CostCaps> null_default = CostCaps::Parse(R"({"default_usd": null})", "c");
  ASSERT_TRUE(null_default.ok());
  EXPECT_FALSE(null_default->For("x").has_value());
}

TEST(CostCaps, ParseErrors) {
  for (const char* bad : {"{", "[1]", R"({"default_usd": -1})", R"({"default_usd": "5"})",
                          R"({"tenants": {"acme": -0.01}})", R"({"tenants": [1]})",
                          R"({"tenants": {"": 1}})", R"({"default": 5})"}) {
    Result<CostCaps> caps = CostCaps::Parse(bad, "caps.json");
    ASSERT_FALSE(caps.ok()) << bad;
    EXPECT_EQ(caps.status().code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(caps.status().message().find("caps.json"), std::string::npos)
        << caps.status().message();
  }
}

TEST(CostCaps, LoadFromFile) {
  TempDir dir;
  const std::string path = dir.File("caps.json");
  WriteFile(path, R"({"default_usd": 2.5})");
  Result<CostCaps> caps = CostCaps::Load(path);
  ASSERT_TRUE(caps.ok()) << caps.status().ToString();
  EXPECT_EQ(caps->For("x"), 2.5);
  EXPECT_EQ(caps->origin, path);
  Result<CostCaps> missing = CostCaps::Load(dir.File("nope.json"));
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find(dir.File("nope.json")), std::string::npos);
}

TEST(CostCaps, CheckCapRefusesAtOrOverTheCap) {
  TempDir dir;
  auto ledger = OpenOrDie(dir.File("state.db"));
  ASSERT_TRUE(ledger);
  Result<CostCaps> caps =
      CostCaps::Parse(R"({"default_usd": 5.0, "tenants": {"acme": 1.0}})", "/etc/caps.json");
  ASSERT_TRUE(caps.ok());
  const std::string day = "2026-11-22";

  EXPECT_TRUE(CheckCap(*ledger, *caps, "acme", day, 0).ok());
  ASSERT_TRUE(ledger->Record(Rec("acme", day, "m", 0.6)).ok());
  EXPECT_TRUE(CheckCap(*ledger, *caps, "acme", day, 0.3).ok());

  // The estimate counts: 0.6 + 0.5 would pass 1.0.
  Status st = CheckCap(*ledger, *caps, "acme", day, 0.5);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.code(), StatusCode::kResourceExhausted);
  EXPECT_NE(st.message().find("tenant acme"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("$1.00"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("$0.60"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("$0.50"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("no model call was made"), std::string::npos) << st.message();

  // At the cap exactly: refused even with a zero estimate.
  ASSERT_TRUE(ledger->Record(Rec("acme", day, "m", 0.4)).ok());
  st = CheckCap(*ledger, *caps, "acme", day, 0);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(st.message(),
            "tenant acme reached its daily cap of $1.00 (spent $1.00 on 2026-11-22); no model "
            "call was made; the cap resets at 00:00 UTC or raise it in /etc/caps.json");

  // Over the cap (the previous call cost more than estimated): refused.
  ASSERT_TRUE(ledger->Record(Rec("acme", day, "m", 0.0125)).ok());
  st = CheckCap(*ledger, *caps, "acme", day, 0);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("spent $1.0125"), std::string::npos) << st.message();

  // Other tenants and other days are unaffected.
  EXPECT_TRUE(CheckCap(*ledger, *caps, "beta", day, 0.5).ok());
  EXPECT_TRUE(CheckCap(*ledger, *caps, "acme", "2026-11-23", 0.5).ok());
  // The default cap applies to tenants without an entry.
  ASSERT_TRUE(ledger->Record(Rec("beta", day, "m", 5.0)).ok());
  st = CheckCap(*ledger, *caps, "beta", day, 0);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("tenant beta reached its daily cap of $5.00"), std::string::npos);
}

TEST(CostCaps, UncappedTenantsAndZeroCap) {
  TempDir dir;
  auto ledger = OpenOrDie(dir.File("state.db"));
  ASSERT_TRUE(ledger);
  Result<CostCaps> caps = CostCaps::Parse(R"({"tenants": {"frozen": 0}})", "caps.json");
  ASSERT_TRUE(caps.ok());
  ASSERT_TRUE(ledger->Record(Rec("big", "2026-11-22", "m", 1000.0)).ok());
  EXPECT_TRUE(CheckCap(*ledger, *caps, "big", "2026-11-22", 1000.0).ok());
  Status st = CheckCap(*ledger, *caps, "frozen", "2026-11-22", 0);
  EXPECT_EQ(st.code(), StatusCode::kResourceExhausted);
  // Unknown-cost calls are not dollars: they do not move the spent amount.
  ASSERT_TRUE(ledger->Record(Rec("acme", "2026-11-22", "m", std::nullopt)).ok());
  CostCaps one;
  one.default_usd = 0.01;
  EXPECT_TRUE(CheckCap(*ledger, one, "acme", "2026-11-22", 0).ok());
  // Without an origin the message still says how to fix it.
  ASSERT_TRUE(ledger->Record(Rec("acme", "2026-11-22", "m", 0.02)).ok());
  st = CheckCap(*ledger, one, "acme", "2026-11-22", 0);
  EXPECT_NE(st.message().find("raise it in the cost caps file"), std::string::npos) << st.message();
}

// ---------------------------------------------------------------------------------------------
// Days and the state path

TEST(SpendDays, UtcDay) {
  EXPECT_EQ(UtcDay(0), "1970-01-01");
  EXPECT_EQ(UtcDay(-1), "1969-12-31");
  EXPECT_EQ(UtcDay(1795391999000000), "2026-11-22");  // 2026-11-22T23:59:59Z
  EXPECT_EQ(UtcDay(1795391999999999), "2026-11-22");
  EXPECT_EQ(UtcDay(1795392000000000), "2026-11-23");
}

TEST(SpendDays, IsValidDay) {
  EXPECT_TRUE(IsValidDay("2026-11-22"));
  EXPECT_TRUE(IsValidDay("2024-02-29"));
  EXPECT_FALSE(IsValidDay("2023-02-29"));
  EXPECT_FALSE(IsValidDay("2026-13-01"));
  EXPECT_FALSE(IsValidDay("2026-00-10"));
  EXPECT_FALSE(IsValidDay("2026-11-31"));
  EXPECT_FALSE(IsValidDay("2026-1-01"));
  EXPECT_FALSE(IsValidDay("2026/11/22"));
  EXPECT_FALSE(IsValidDay(""));
}

TEST(SpendPaths, DefaultStatePath) {
  std::map<std::string, std::string> vars;
  auto env = [&](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
  EXPECT_EQ(DefaultStatePath(env), "");
  vars["HOME"] = "/home/u";
  EXPECT_EQ(DefaultStatePath(env), "/home/u/.local/state/fasten-mcp/state.db");
  vars["XDG_STATE_HOME"] = "";  // empty counts as unset
  EXPECT_EQ(DefaultStatePath(env), "/home/u/.local/state/fasten-mcp/state.db");
  vars["XDG_STATE_HOME"] = "/xdg";
  EXPECT_EQ(DefaultStatePath(env), "/xdg/fasten-mcp/state.db");
  vars["FASTEN_STATE_DIR"] = "/var/lib/fasten-mcp";
  EXPECT_EQ(DefaultStatePath(env), "/var/lib/fasten-mcp/state.db");

  ScopedEnv a("FASTEN_STATE_DIR", "/srv/state");
  EXPECT_EQ(DefaultStatePath(), "/srv/state/state.db");
}

}  // namespace
}  // namespace fasten::llm
