// Policy specs: parsing, canonical text, aliases, errors, pair labels, and the catalogue
// that `coedge policies` prints.
#include "policy/policy_spec.h"

#include <gtest/gtest.h>

#include <set>

namespace coedge::policy {
namespace {

std::string text_of_dispatcher(const char* text) {
  auto spec = DispatcherSpec::parse(text);
  EXPECT_TRUE(spec.ok()) << text << ": " << (spec.ok() ? "" : spec.error().message);
  return spec.ok() ? spec->text() : "";
}

std::string error_of_scheduler(const char* text) {
  auto spec = SchedulerSpec::parse(text);
  EXPECT_FALSE(spec.ok()) << text;
  return spec.ok() ? "" : spec.error().message;
}

TEST(PolicySpec, DefaultsAreThePapersPolicies) {
  EXPECT_EQ(DispatcherSpec{}.text(), "coedge");
  EXPECT_EQ(SchedulerSpec{}.text(), "coedge");
  EXPECT_EQ(PolicySpec{}.label(), "coedge+coedge");
}

TEST(PolicySpec, TextIsCanonicalWhateverTheOrderAndSpacing) {
  EXPECT_EQ(text_of_dispatcher("coedge:useful-evictions, batch-aware"),
            "coedge:batch-aware,useful-evictions");
  EXPECT_EQ(text_of_dispatcher(" local "), "local");
  auto a = DispatcherSpec::parse("coedge:blocking-aware,batch-aware");
  auto b = DispatcherSpec::parse("coedge:batch-aware,blocking-aware");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_TRUE(*a == *b);
  EXPECT_FALSE(*a == DispatcherSpec{});
}

TEST(PolicySpec, OptionsAreReadBackTyped) {
  auto spec = SchedulerSpec::parse("triton:timeout=none,preferred=8,4,max-queue-delay=1.5ms");
  ASSERT_TRUE(spec.ok()) << spec.error().message;
  EXPECT_EQ(spec->text(), "triton:preferred=4,8,max-queue-delay=1500us,timeout=none");
  EXPECT_EQ(spec->batch_sizes("preferred"), (std::vector<int>{4, 8}));
  EXPECT_EQ(spec->duration("max-queue-delay"), Duration{1500});
  EXPECT_EQ(spec->duration("timeout"), kNever);
  EXPECT_FALSE(SchedulerSpec{}.has("wait-for-batch"));
  EXPECT_TRUE(SchedulerSpec::parse("coedge:wait-for-batch")->has("wait-for-batch"));
  // The canonical text parses back to the same spec.
  auto again = SchedulerSpec::parse(spec->text());
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(*again == *spec);
}

TEST(PolicySpec, SetReplacesOneOption) {
  SchedulerSpec spec = *SchedulerSpec::parse("triton:preferred=2");
  ASSERT_TRUE(spec.set("preferred=3,6").ok());
  ASSERT_TRUE(spec.set("timeout=20ms").ok());
  EXPECT_EQ(spec.text(), "triton:preferred=3,6,timeout=20ms");
  const Status bad = spec.set("timeout=soon");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("timeout"), std::string::npos) << bad.error().message;
}

TEST(PolicySpec, OldNamesAreAliasesWithANotice) {
  for (const AliasInfo& a : policy_aliases()) {
    std::string notice;
    if (a.role == PolicyRole::kDispatcher) {
      auto spec = DispatcherSpec::parse(a.alias, &notice);
      ASSERT_TRUE(spec.ok());
      EXPECT_EQ(spec->text(), a.spec);
    } else {
      auto spec = SchedulerSpec::parse(a.alias, &notice);
      ASSERT_TRUE(spec.ok());
      EXPECT_EQ(spec->text(), a.spec);
    }
    EXPECT_NE(notice.find("deprecated"), std::string::npos) << notice;
    EXPECT_NE(notice.find(std::string(a.spec)), std::string::npos) << notice;
    EXPECT_EQ(notice.find('\n'), std::string::npos) << "one line: " << notice;
  }
  EXPECT_EQ(text_of_dispatcher("coedge++"), "coedge:batch-aware,blocking-aware,useful-evictions");
  std::string notice;
  ASSERT_TRUE(SchedulerSpec::parse("edf", &notice).ok());
  EXPECT_TRUE(notice.empty()) << "a current name gives no notice";
}

TEST(PolicySpec, ErrorsNameWhatWasWrongAndWhatIsAccepted) {
  const std::string unknown = error_of_scheduler("edff");
  EXPECT_NE(unknown.find("'edff'"), std::string::npos) << unknown;
  EXPECT_NE(unknown.find("did you mean 'edf'"), std::string::npos) << unknown;
  EXPECT_NE(unknown.find("coedge, edf, fixed, triton, deadline-drop"), std::string::npos) << unknown;

  const std::string option = error_of_scheduler("coedge:wait-for-bach");
  EXPECT_NE(option.find("unknown option 'wait-for-bach'"), std::string::npos) << option;
  EXPECT_NE(option.find("did you mean 'wait-for-batch'"), std::string::npos) << option;

  EXPECT_NE(error_of_scheduler("edf:batch").find("edf takes no options"), std::string::npos);
  EXPECT_NE(error_of_scheduler("coedge:wait-for-batch=1").find("takes no value"), std::string::npos);
  EXPECT_NE(error_of_scheduler("triton:preferred=11").find("1-10"), std::string::npos);
  EXPECT_NE(error_of_scheduler("triton:preferred=x").find("1-10"), std::string::npos);
  EXPECT_NE(error_of_scheduler("triton:max-queue-delay=20").find("unit"), std::string::npos);
  EXPECT_NE(error_of_scheduler("triton:max-queue-delay=-1ms").find("negative"), std::string::npos);
  EXPECT_NE(error_of_scheduler("triton:timeout=1s,timeout=2s").find("twice"), std::string::npos);
  EXPECT_NE(error_of_scheduler("triton:,timeout=1s").find("empty option"), std::string::npos);
  EXPECT_NE(error_of_scheduler("coedge:").find("empty option"), std::string::npos);
  // A dispatcher name is not a scheduler.
  EXPECT_NE(error_of_scheduler("naive").find("unknown scheduler"), std::string::npos);
}

TEST(PolicySpec, PairLabelsRoundTripIncludingOldDispatcherNames) {
  for (const DispatcherSpec& d : dispatcher_variants())
    for (const SchedulerSpec& s : scheduler_variants()) {
      const PolicySpec pair{d, s};
      auto back = PolicySpec::parse(pair.label());
      ASSERT_TRUE(back.ok()) << pair.label() << ": " << back.error().message;
      EXPECT_TRUE(*back == pair) << pair.label();
    }
  std::vector<std::string> notices;
  auto old = PolicySpec::parse("coedge+++coedge-wait", &notices);
  ASSERT_TRUE(old.ok()) << old.error().message;
  EXPECT_EQ(old->label(), "coedge:batch-aware,blocking-aware,useful-evictions+coedge:wait-for-batch");
  EXPECT_EQ(notices.size(), 2u);
  auto plus = PolicySpec::parse("coedge++edf");
  ASSERT_TRUE(plus.ok());
  EXPECT_EQ(plus->label(), "coedge:batch-aware+edf");
  EXPECT_FALSE(PolicySpec::parse("coedge").ok());
  EXPECT_FALSE(PolicySpec::parse("local+naive").ok());
}

TEST(PolicySpec, VariantsAreDistinctAndCoverEveryBase) {
  std::set<std::string> texts, bases;
  for (const DispatcherSpec& d : dispatcher_variants()) {
    texts.insert(d.text());
    bases.insert("d:" + std::string(d.base()));
  }
  for (const SchedulerSpec& s : scheduler_variants()) {
    texts.insert("s:" + s.text());
    bases.insert("s:" + std::string(s.base()));
  }
  EXPECT_EQ(texts.size(), dispatcher_variants().size() + scheduler_variants().size());
  size_t catalogue_bases = 0;
  for (const BaseInfo& b : policy_catalogue()) {
    ++catalogue_bases;
    EXPECT_TRUE(bases.count((b.role == PolicyRole::kDispatcher ? "d:" : "s:") + std::string(b.name)))
        << b.name;
    EXPECT_FALSE(b.summary.empty()) << b.name;
    for (const OptionInfo& o : b.options) EXPECT_FALSE(o.help.empty()) << b.name << ":" << o.name;
  }
  EXPECT_EQ(bases.size(), catalogue_bases);
}

}  // namespace
}  // namespace coedge::policy
