// Every vector of shared/vectors/chain-vectors.json: canonical bytes and hash (and commitment,
// and the expected verify verdict where given).
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "store/json_row.h"
#include "util/crypto.h"
#include "util/json_text.h"
#include "validator/canonical.h"
#include "validator/chain.h"

namespace fasten {
namespace {

using nlohmann::json;

struct Vector {
  json meta;                           // parsed (for labels and expectations)
  std::vector<std::string> row_texts;  // raw row objects, number tokens intact
};

std::vector<Vector> LoadVectors() {
  std::ifstream in(FASTEN_VECTORS_PATH);
  EXPECT_TRUE(in) << "cannot open " << FASTEN_VECTORS_PATH;
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string text = ss.str();
  std::vector<json_text::Member> top, vec;
  std::string error;
  EXPECT_TRUE(json_text::ObjectMembers(text, &top, &error)) << error;
  std::vector<Vector> out;
  for (const auto& m : top) {
    if (m.key != "vectors") continue;
    std::vector<std::string_view> elems;
    EXPECT_TRUE(json_text::ArrayElements(m.raw, &elems, &error)) << error;
    for (std::string_view e : elems) {
      Vector v;
      v.meta = json::parse(e);
      EXPECT_TRUE(json_text::ObjectMembers(e, &vec, &error)) << error;
      for (const auto& f : vec) {
        if (f.key == "row") v.row_texts.emplace_back(f.raw);
        if (f.key == "rows") {
          std::vector<std::string_view> rows;
          EXPECT_TRUE(json_text::ArrayElements(f.raw, &rows, &error));
          for (auto r : rows) v.row_texts.emplace_back(r);
        }
      }
      out.push_back(std::move(v));
    }
  }
  return out;
}

TEST(ChainVectors, FileHasAllSevenVectors) {
  EXPECT_EQ(LoadVectors().size(), 7u);
}

TEST(ChainVectors, CanonicalBytesAndHashesMatch) {
  Canonicalizer canon;
  Sha256 sha;
  for (const Vector& v : LoadVectors()) {
    const std::string label = v.meta.at("label");
    SCOPED_TRACE(label);
    ASSERT_FALSE(v.row_texts.empty());
    std::vector<std::string> expected;
    if (v.meta.contains("expected_hashes")) {
      for (const auto& h : v.meta["expected_hashes"]) expected.push_back(h);
    } else {
      expected.push_back(v.meta.at("expected_hash"));
    }
    ASSERT_EQ(expected.size(), v.row_texts.size());
    for (size_t i = 0; i < v.row_texts.size(); ++i) {
      AuditRow row;
      ASSERT_TRUE(AuditRowFromJson(v.row_texts[i], &row).ok());
      RowHashOptions o;
      if (label == "form1_legacy_z_timestamp") {
        // The conformant form-1 rendering gives the documented conformant hash...
        std::string bytes, error;
        ASSERT_TRUE(canon.RowBytes(row, o, &bytes, &error)) << error;
        EXPECT_EQ(sha.Hex(bytes), v.meta.at("conformant_form1_hash_for_same_row"));
        // ...and the stored hash is the legacy Z spelling.
        o.timestamps = RowHashOptions::Timestamps::kCanonicalZ;
      }
      std::string bytes, error;
      ASSERT_TRUE(canon.RowBytes(row, o, &bytes, &error)) << error;
      if (v.meta.contains("canonical_json_hashed") && v.row_texts.size() == 1) {
        EXPECT_EQ(bytes, v.meta["canonical_json_hashed"].get<std::string>());
      }
      EXPECT_EQ(sha.Hex(bytes), expected[i]);
      EXPECT_EQ(row.hash, expected[i]);
      if (!row.detail_is_null() && !row.detail_salt.null) {
        std::string detail;
        ASSERT_TRUE(canon.DetailBytes(row, EscapeStyle::kPython, &detail, &error));
        std::string commitment = sha.Hex(row.detail_salt.value, detail);
        if (v.meta.contains("expected_detail_commitment")) {
          EXPECT_EQ(commitment, v.meta["expected_detail_commitment"]);
        }
        if (!v.meta.contains("expected_verify")) {
          // Consistent with the formula (also on form-1 rows that carry one, unhashed).
          EXPECT_EQ(commitment, row.detail_commitment.value);
        }
      }
    }
  }
}

TEST(ChainVectors, VerifierAgreesWithEveryVector) {
  for (const Vector& v : LoadVectors()) {
    const std::string label = v.meta.at("label");
    SCOPED_TRACE(label);
    ChainVerifier verifier;
    for (const std::string& text : v.row_texts) {
      AuditRow row;
      ASSERT_TRUE(AuditRowFromJson(text, &row).ok());
      verifier.Add(row);
    }
    VerifyReport r = verifier.Finish();
    ASSERT_EQ(r.nodes.size(), 1u);
    if (v.meta.contains("expected_verify")) {
      const json& ev = v.meta["expected_verify"];
      EXPECT_EQ(r.upstream.ok, ev.at("ok").get<bool>());
      EXPECT_EQ(r.ok, ev.at("ok").get<bool>());
      ASSERT_TRUE(r.upstream.first_break_at.has_value());
      EXPECT_EQ(*r.upstream.first_break_at, ev.at("first_break_at").get<int64_t>());
      EXPECT_NE(r.upstream.reason->find(ev.at("reason_contains").get<std::string>()),
                std::string::npos)
          << *r.upstream.reason;
      EXPECT_EQ(*r.upstream.reason, "row evt-1: detail does not match its commitment");
    } else {
      EXPECT_TRUE(r.upstream.ok) << r.upstream.reason.value_or("");
      EXPECT_TRUE(r.ok);
      EXPECT_EQ(r.valid, static_cast<int64_t>(v.row_texts.size()));
      if (label == "form1_legacy_z_timestamp") {
        EXPECT_EQ(r.nodes[0].verified, 0);
        EXPECT_EQ(r.nodes[0].verified_fallback.at(kFallbackForm1Z), 1);
      } else {
        EXPECT_EQ(r.nodes[0].verified, static_cast<int64_t>(v.row_texts.size()));
      }
    }
  }
}

}  // namespace
}  // namespace fasten
