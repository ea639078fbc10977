#include "util/base64.h"

#include <gtest/gtest.h>

#include <string>

namespace fasten {
namespace {

// RFC 4648 §10 test vectors.
TEST(Base64, EncodesTheRfc4648Vectors) {
  EXPECT_EQ(Base64Encode(""), "");
  EXPECT_EQ(Base64Encode("f"), "Zg==");
  EXPECT_EQ(Base64Encode("fo"), "Zm8=");
  EXPECT_EQ(Base64Encode("foo"), "Zm9v");
  EXPECT_EQ(Base64Encode("foob"), "Zm9vYg==");
  EXPECT_EQ(Base64Encode("fooba"), "Zm9vYmE=");
  EXPECT_EQ(Base64Encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(Base64Encode(std::string("\xfb\xff\xbf", 3)), "+/+/");
}

TEST(Base64, DecodesWhatItEncodes) {
  for (const std::string& s :
       {std::string(), std::string("f"), std::string("fo"), std::string("foo"),
        std::string("\0\x01\xfe\xff", 4), std::string(300, '\xa5')}) {
    auto d = Base64Decode(Base64Encode(s));
    ASSERT_TRUE(d.has_value()) << s;
    EXPECT_EQ(*d, s);
  }
  std::string all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
  for (size_t n = 0; n <= all.size(); ++n) {
    EXPECT_EQ(Base64Decode(Base64Encode(all.substr(0, n))), all.substr(0, n)) << n;
  }
}

TEST(Base64, IsStrict) {
  for (const char* bad : {
           "Zg",        // padding missing
           "Zg=",       // wrong length
           "Zm9",       // wrong length
           "Z===",      // three '=' never occur
           "====",      // padding only
           "Zg==Zg==",  // padding in the middle
           "Z=g=",      // '=' not at the end
           "Zh==",      // non-canonical: unused bits set ("Zg==" is the encoding of "f")
           "Zm9=",      // non-canonical ("Zm8=")
           "Zm-v",      // base64url character
           "Zm_v",      // base64url character
           "Zm9v\n",    // whitespace is not skipped
           " Zm9v",     // ...anywhere
           "Zm 9v",     // ...
           "Zm9v====",  // extra padding
       }) {
    EXPECT_FALSE(Base64Decode(bad).has_value()) << bad;
  }
  EXPECT_FALSE(Base64Decode(std::string("Zm\0v", 4)).has_value());
  EXPECT_EQ(Base64Decode(""), std::string());
  EXPECT_EQ(Base64Decode("+/+/"), std::string("\xfb\xff\xbf", 3));
}

}  // namespace
}  // namespace fasten
