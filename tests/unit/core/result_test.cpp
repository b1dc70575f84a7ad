#include "hivemind/core/result.hpp"

#include <string>

#include <gtest/gtest.h>

#include "hivemind/core/check.hpp"
#include "hivemind/core/error.hpp"

namespace hivemind {
namespace {

Result<int> parse_positive(int x) {
  if (x <= 0)
    return Err(CoreErrc::kInvalidArgument);
  return x;
}

Result<std::string> twice(int x) {
  HM_TRY(int v, parse_positive(x));
  return std::to_string(2 * v);
}

Result<void> validate(int x) {
  HM_TRY_VOID(parse_positive(x));
  return ok();
}

TEST(Result, PropagatesErrorsThroughTry) {
  EXPECT_EQ(*twice(21), "42");
  auto failed = twice(-1);
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error(), CoreErrc::kInvalidArgument);
  EXPECT_EQ(failed.error().category().name(), std::string("hivemind.core"));
  EXPECT_TRUE(validate(3));
  EXPECT_EQ(validate(0).error(), CoreErrc::kInvalidArgument);
}

TEST(Result, ValueOrFallsBack) {
  EXPECT_EQ(parse_positive(5).value_or(7), 5);
  EXPECT_EQ(parse_positive(-5).value_or(7), 7);
}

TEST(Check, ThrowsInvalidArgumentWithMessage) {
  try {
    HM_CHECK(1 + 1 == 3, "arithmetic is broken");
    FAIL() << "HM_CHECK did not throw";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("arithmetic is broken"), std::string::npos);
  }
}

}  // namespace
}  // namespace hivemind

namespace hivemind {
namespace {

TEST(Result, CarriesDetailThroughPropagation) {
  auto inner = []() -> Result<int> {
    return Err(CoreErrc::kTooLarge, "frame of 9 MiB > 4 MiB");
  };
  auto outer = [&]() -> Result<int> {
    HM_TRY(int v, inner());
    return v;
  };
  auto r = outer();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), CoreErrc::kTooLarge);
  EXPECT_EQ(r.error().message(), "frame of 9 MiB > 4 MiB");
  Result<void> plain = Err(CoreErrc::kTimeout);
  EXPECT_FALSE(plain.error().has_detail());
  EXPECT_EQ(plain.error().message(), "timed out");
}

}  // namespace
}  // namespace hivemind
