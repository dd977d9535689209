// The task cgroup's pure planner (paths below the process's own cgroup of each
// controller, the files and values written, the errors) and applying a plan to a plain
// directory tree standing in for /sys/fs/cgroup (no root needed): what a refused write
// or an existing cgroup leaves behind. The limits in effect on real cgroups, as root,
// are tested in tests/integration/sandbox_escape_test.cc.
#include "os/cgroup_limits.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace coedge::os {
namespace {

namespace fs = std::filesystem;

// As on this machine: memory below a container's cgroup, cpu and cpuacct separate.
constexpr const char* kProcSelfCgroup =
    "9:name=systemd:/\n8:pids:/\n4:memory:/process_api/d81a\n2:cpuacct:/\n1:cpu:/\n0::/\n";

std::map<std::string, std::string> own() { return *parse_proc_cgroup(kProcSelfCgroup); }

TEST(CgroupLimits, ParsesProcSelfCgroup) {
  Result<std::map<std::string, std::string>> parsed = parse_proc_cgroup(kProcSelfCgroup);
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(*parsed, (std::map<std::string, std::string>{
                         {"pids", "/"}, {"memory", "/process_api/d81a"}, {"cpuacct", "/"}, {"cpu", "/"}}));
  Result<std::map<std::string, std::string>> comounted = parse_proc_cgroup("3:cpu,cpuacct:/a/b\n");
  ASSERT_TRUE(comounted.ok());
  EXPECT_EQ(comounted->at("cpu"), "/a/b");
  EXPECT_EQ(comounted->at("cpuacct"), "/a/b");
  Result<std::map<std::string, std::string>> bad = parse_proc_cgroup("1:cpu:/\nnonsense\n");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message, "/proc/self/cgroup line 2 'nonsense' is not 'ID:CONTROLLERS:/PATH'");
}

TEST(CgroupLimits, PlansEachLimitBelowTheOwnCgroupOfItsController) {
  Result<CgroupPlan> plan = plan_task_cgroup("coedge-n1-t0", {0.5, 256u << 20, 64}, own(), "/cg");
  ASSERT_TRUE(plan.ok()) << plan.error().message;
  EXPECT_EQ(plan->dirs, (std::vector<std::string>{"/cg/cpu/coedge-n1-t0", "/cg/memory/process_api/d81a/coedge-n1-t0",
                                                  "/cg/pids/coedge-n1-t0"}));
  EXPECT_EQ(plan->procs_files,
            (std::vector<std::string>{"/cg/cpu/coedge-n1-t0/cgroup.procs",
                                      "/cg/memory/process_api/d81a/coedge-n1-t0/cgroup.procs",
                                      "/cg/pids/coedge-n1-t0/cgroup.procs"}));
  const std::string mem = "/cg/memory/process_api/d81a/coedge-n1-t0/";
  EXPECT_EQ(plan->writes, (std::vector<CgroupWrite>{
                              {"/cg/cpu/coedge-n1-t0/cpu.cfs_period_us", "100000"},
                              {"/cg/cpu/coedge-n1-t0/cpu.cfs_quota_us", "50000"},
                              {mem + "memory.limit_in_bytes", "268435456"},
                              {mem + "memory.memsw.limit_in_bytes", "268435456", true},
                              {mem + "memory.swappiness", "0", true},
                              {"/cg/pids/coedge-n1-t0/pids.max", "64"}}));
}

TEST(CgroupLimits, ZeroIsUnlimitedAndGetsNoCgroup) {
  Result<CgroupPlan> none = plan_task_cgroup("t", {}, own(), "/cg");
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->dirs.empty());
  EXPECT_TRUE(none->writes.empty());
  EXPECT_TRUE(none->procs_files.empty());
  Result<CgroupPlan> pids_only = plan_task_cgroup("t", {0, 0, 8}, own(), "/cg");
  ASSERT_TRUE(pids_only.ok());
  EXPECT_EQ(pids_only->dirs, std::vector<std::string>{"/cg/pids/t"});
  // The kernel's minimum quota is 1 ms.
  Result<CgroupPlan> tiny = plan_task_cgroup("t", {0.001, 0, 0}, own(), "/cg");
  ASSERT_TRUE(tiny.ok());
  EXPECT_EQ(tiny->writes.back(), (CgroupWrite{"/cg/cpu/t/cpu.cfs_quota_us", "1000"}));
}

TEST(CgroupLimits, BadNamesLimitsAndMissingControllersAreClearErrors) {
  auto error_of = [](const std::string& name, CgroupLimits limits, std::map<std::string, std::string> o) {
    Result<CgroupPlan> plan = plan_task_cgroup(name, limits, o, "/cg");
    return plan.ok() ? std::string("(no error)") : plan.error().message;
  };
  EXPECT_NE(error_of("a/b", {1, 0, 0}, own()).find("cgroup name 'a/b' must be"), std::string::npos);
  EXPECT_NE(error_of("..", {1, 0, 0}, own()).find("cgroup name '..'"), std::string::npos);
  EXPECT_NE(error_of("", {1, 0, 0}, own()).find("cgroup name ''"), std::string::npos);
  EXPECT_NE(error_of("t", {-1, 0, 0}, own()).find("cpus must be in [0, 1024]"), std::string::npos);
  EXPECT_NE(error_of("t", {2000, 0, 0}, own()).find("cpus must be in [0, 1024]"), std::string::npos);
  EXPECT_NE(error_of("t", {0, 4096, 0}, own()).find("memory must be at least 1 MiB"), std::string::npos);
  std::map<std::string, std::string> no_pids = own();
  no_pids.erase("pids");
  EXPECT_EQ(error_of("t", {0, 0, 8}, no_pids),
            "cgroup v1 controller 'pids' is not mounted (not in /proc/self/cgroup); it is needed for the pids limit");
  Result<CgroupPlan> plan = plan_task_cgroup("t", {0, 0, 8}, no_pids, "/cg");
  EXPECT_EQ(plan.error().code, ErrorCode::kUnsupported);
}

class CgroupTree : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = "/tmp/coedge_cgroup_XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    root_ = tmpl;
    fs::create_directories(root_ + "/cpu");
    fs::create_directories(root_ + "/pids");
    fs::create_directories(root_ + "/memory/process_api/d81a");
  }
  void TearDown() override { fs::remove_all(root_); }
  std::string root_;
};

// A plain directory has no control files: a required write fails, naming the file, and
// the directories made so far are removed.
TEST_F(CgroupTree, ARefusedWriteNamesTheFileAndLeavesNothing) {
  Result<CgroupPlan> plan = plan_task_cgroup("t0", {0.5, 0, 16}, own(), root_);
  ASSERT_TRUE(plan.ok());
  Result<TaskCgroup> cgroup = TaskCgroup::apply(*plan);
  ASSERT_FALSE(cgroup.ok());
  EXPECT_NE(cgroup.error().message.find("cannot open " + root_ + "/cpu/t0/cpu.cfs_period_us"), std::string::npos)
      << cgroup.error().message;
  EXPECT_FALSE(fs::exists(root_ + "/cpu/t0"));
  EXPECT_FALSE(fs::exists(root_ + "/pids/t0"));
}

TEST_F(CgroupTree, ExistingOrUnmountedCgroupsAreRefused) {
  fs::create_directories(root_ + "/pids/t0");
  Result<CgroupPlan> plan = plan_task_cgroup("t0", {0, 0, 16}, own(), root_);
  ASSERT_TRUE(plan.ok());
  Result<TaskCgroup> cgroup = TaskCgroup::apply(*plan);
  ASSERT_FALSE(cgroup.ok());
  EXPECT_NE(cgroup.error().message.find("cgroup " + root_ + "/pids/t0 already exists"), std::string::npos)
      << cgroup.error().message;
  EXPECT_TRUE(fs::exists(root_ + "/pids/t0")) << "not ours: left alone";

  fs::remove_all(root_ + "/memory");
  plan = plan_task_cgroup("t1", {0, 64u << 20, 0}, own(), root_);
  ASSERT_TRUE(plan.ok());
  cgroup = TaskCgroup::apply(*plan);
  ASSERT_FALSE(cgroup.ok());
  EXPECT_EQ(cgroup.error().code, ErrorCode::kUnsupported);
  EXPECT_NE(cgroup.error().message.find(root_ + "/memory/process_api/d81a does not exist"), std::string::npos)
      << cgroup.error().message;
}

// Optional writes (memsw, swappiness) are skipped when their file is missing; the
// cgroup is removed by remove() and by the destructor.
TEST_F(CgroupTree, OptionalFilesMaySkipAndRemoveCleansUp) {
  Result<CgroupPlan> plan = plan_task_cgroup("t0", {0, 64u << 20, 0}, own(), root_);
  ASSERT_TRUE(plan.ok());
  const std::string dir = plan->dirs[0];
  // A plain directory has no memory.limit_in_bytes: the required write fails.
  Result<TaskCgroup> failed = TaskCgroup::apply(*plan);
  ASSERT_FALSE(failed.ok());
  EXPECT_NE(failed.error().message.find("memory.limit_in_bytes"), std::string::npos);
  // A plan with only optional writes applies, and is removed.
  CgroupPlan optional_only = *plan;
  optional_only.writes.erase(optional_only.writes.begin());
  {
    Result<TaskCgroup> cgroup = TaskCgroup::apply(optional_only);
    ASSERT_TRUE(cgroup.ok()) << cgroup.error().message;
    EXPECT_TRUE(fs::is_directory(dir));
    EXPECT_EQ(cgroup->join_files(), std::vector<std::string>{dir + "/cgroup.procs"});
    EXPECT_TRUE(cgroup->pids().empty());
    ASSERT_TRUE(cgroup->remove());
    EXPECT_FALSE(fs::exists(dir));
    EXPECT_TRUE(cgroup->remove()) << "idempotent";
  }
  {
    Result<TaskCgroup> cgroup = TaskCgroup::apply(optional_only);
    ASSERT_TRUE(cgroup.ok()) << cgroup.error().message;
    TaskCgroup moved = std::move(*cgroup);
    EXPECT_TRUE(fs::is_directory(dir));
  }
  EXPECT_FALSE(fs::exists(dir)) << "the destructor removes it";
}

}  // namespace
}  // namespace coedge::os
