// core/text.h: the formatting helpers every report and message shares.
#include "core/text.h"

#include <gtest/gtest.h>

namespace coedge {
namespace {

TEST(Percent, TwoDecimalsByDefaultAndRoundsToTheDecimalsAsked) {
  EXPECT_EQ(percent(0.0576), "5.76%");
  EXPECT_EQ(percent(0.0), "0.00%");
  EXPECT_EQ(percent(1.0), "100.00%");
  EXPECT_EQ(percent(0.0576, 0), "6%");
  EXPECT_EQ(percent(0.12345, 1), "12.3%");
}

TEST(XmlEscape, EscapesTheFiveSpecialCharactersAndNothingElse) {
  EXPECT_EQ(xml_escape("a<b>&\"c'"), "a&lt;b&gt;&amp;&quot;c&apos;");
  EXPECT_EQ(xml_escape("/coedge/node/n1"), "/coedge/node/n1");
}

}  // namespace
}  // namespace coedge
