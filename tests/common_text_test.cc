// SplitCommas (common/text.h): the one splitter of config lists and profile CSV rows.
#include <gtest/gtest.h>

#include "common/text.h"

namespace qosroute {
namespace {

using Items = std::vector<std::string>;

TEST(SplitCommas, TrimsSpacesTabsAndCarriageReturns) {
  EXPECT_EQ(SplitCommas(" a ,\tb\t, c\r", EmptyItems::kDrop), (Items{"a", "b", "c"}));
  EXPECT_EQ(SplitCommas(" a ,\tb\t, c\r", EmptyItems::kKeep), (Items{"a", "b", "c"}));
}

TEST(SplitCommas, KeepHoldsEveryColumnOfACsvRowInPlace) {
  EXPECT_EQ(SplitCommas("1,,3", EmptyItems::kKeep), (Items{"1", "", "3"}));
  EXPECT_EQ(SplitCommas("1, ,3,", EmptyItems::kKeep), (Items{"1", "", "3", ""}));
  EXPECT_EQ(SplitCommas(",", EmptyItems::kKeep), (Items{"", ""}));
}

TEST(SplitCommas, DropLeavesEmptyItemsOutOfAList) {
  EXPECT_EQ(SplitCommas("a,, b ,", EmptyItems::kDrop), (Items{"a", "b"}));
  EXPECT_TRUE(SplitCommas("", EmptyItems::kDrop).empty());
  EXPECT_TRUE(SplitCommas(" , ", EmptyItems::kDrop).empty());
}

}  // namespace
}  // namespace qosroute
