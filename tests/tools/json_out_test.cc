#include "tools/json_out.h"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <nlohmann/json.hpp>
#include <random>
#include <string>

#include "tools/row_json.h"

namespace fasten {
namespace {

using nlohmann::json;

std::string Reference(const json& v) {
  return v.dump(-1, ' ', false, json::error_handler_t::replace);
}

void ExpectSame(const json& v) {
  const std::string want = Reference(v);
  std::string got;
  AppendJson(v, &got);
  EXPECT_EQ(got, want);
  EXPECT_EQ(DumpJson(v), want);
  EXPECT_EQ(JsonDumpSize(v), want.size());
  if (v.is_string()) {
    std::string s;
    AppendJsonString(v.get<std::string>(), &s);
    EXPECT_EQ(s, want);
  }
}

TEST(JsonOutTest, ScalarsMatchNlohmann) {
  for (const json& v : {json(nullptr),
                        json(true),
                        json(false),
                        json(0),
                        json(-1),
                        json(42),
                        json(INT64_MIN),
                        json(INT64_MAX),
                        json(UINT64_MAX),
                        json(0.0),
                        json(-0.0),
                        json(75.0),
                        json(1e20),
                        json(0.1),
                        json(1.5e-300),
                        json(std::nan("")),
                        json(""),
                        json("plain"),
                        json::object(),
                        json::array(),
                        json::binary({1, 2, 3})}) {
    ExpectSame(v);
  }
}

TEST(JsonOutTest, EscapesMatchNlohmann) {
  std::string all_bytes;
  for (int c = 0; c < 0x80; ++c) all_bytes.push_back(static_cast<char>(c));
  for (const std::string& s :
       {all_bytes, std::string("quote \" backslash \\ slash / del \x7f"),
        std::string("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xef\xbf\xbf \xf4\x8f\xbf\xbf"),
        std::string("bad \xff byte"), std::string("truncated \xe2\x82"), std::string("\xc0\xaf"),
        std::string("surrogate \xed\xa0\x80 x"), std::string("too big \xf4\x90\x80\x80"),
        std::string("lone continuation \x80\x80"), std::string("\xe2\x82\xac\xe2"),
        std::string("nul \0 inside", 12)}) {
    ExpectSame(json(s));
    ExpectSame(json{{s, s}, {"k", json::array({s, 1, s})}});
  }
}

TEST(JsonOutTest, RandomDocumentsMatchNlohmann) {
  std::mt19937_64 rng(7);
  auto random_string = [&] {
    std::string s;
    const size_t n = rng() % 24;
    for (size_t i = 0; i < n; ++i) {
      const uint64_t r = rng() % 10;
      if (r < 6) {
        s.push_back(static_cast<char>(0x20 + rng() % 0x5f));
      } else if (r < 7) {
        s.push_back(static_cast<char>(rng() % 0x20));
      } else if (r < 8) {
        static const char* const kValid[] = {"\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80"};
        s += kValid[rng() % 3];
      } else if (r < 9) {
        s += "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"[rng() % 9];  // a byte of a sequence
      } else {
        s.push_back(static_cast<char>(0x80 + rng() % 0x80));
      }
    }
    return s;
  };
  std::function<json(int)> random_value = [&](int depth) -> json {
    switch (rng() % (depth > 3 ? 5 : 7)) {
      case 0:
        return nullptr;
      case 1:
        return static_cast<int64_t>(rng()) >> (rng() % 64);
      case 2:
        return std::ldexp(static_cast<double>(rng() % 100000) - 50000,
                          static_cast<int>(rng() % 80) - 40);
      case 3:
        return random_string();
      case 4:
        return rng() % 2 == 0;
      case 5: {
        json o = json::object();
        for (uint64_t i = rng() % 5; i > 0; --i) o[random_string()] = random_value(depth + 1);
        return o;
      }
      default: {
        json a = json::array();
        for (uint64_t i = rng() % 5; i > 0; --i) a.push_back(random_value(depth + 1));
        return a;
      }
    }
  };
  for (int i = 0; i < 3000; ++i) ExpectSame(random_value(0));
}

TEST(JsonOutTest, SplicesReplaceTheirNodes) {
  json doc = {{"a", 1}, {"b", {{"c", nullptr}, {"d", json::array({"x", nullptr})}}}};
  const JsonSplice splices[] = {{&doc["b"]["c"], R"({"raw":true})"}, {&doc["b"]["d"][1], "7"}};
  std::string out;
  AppendJson(doc, &out, splices);
  EXPECT_EQ(out, R"({"a":1,"b":{"c":{"raw":true},"d":["x",7]}})");
}

}  // namespace
}  // namespace fasten
