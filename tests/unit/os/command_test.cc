// os::run_command / run_checked with real programs (sh, cat, sleep): exit status, both
// output streams, input larger than a pipe buffer, a missing program, the timeout.
#include "os/command.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

namespace coedge::os {
namespace {

TEST(Command, CapturesOutputStatusAndInput) {
  auto r = run_command({"sh", "-c", "echo out; echo err >&2; exit 3"});
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->exit_code, 3);
  EXPECT_EQ(r->out, "out\n");
  EXPECT_EQ(r->err, "err\n");

  CommandOptions big;
  big.input = std::string(1 << 20, 'y');  // larger than any pipe buffer, both ways
  auto cat = run_checked({"cat"}, big);
  ASSERT_TRUE(cat.ok()) << cat.error().message;
  EXPECT_EQ(*cat, big.input);

  auto failed = run_checked({"sh", "-c", "echo bad thing >&2; exit 2", "x y"});
  ASSERT_FALSE(failed.ok());
  EXPECT_NE(failed.error().message.find("'x y'"), std::string::npos) << failed.error().message;
  EXPECT_NE(failed.error().message.find("status 2: bad thing"), std::string::npos) << failed.error().message;

  auto missing = run_command({"coedge-no-such-program"});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);

  CommandOptions quick;
  quick.timeout = std::chrono::milliseconds(100);
  auto slow = run_command({"sleep", "5"}, quick);
  ASSERT_FALSE(slow.ok());
  EXPECT_NE(slow.error().message.find("killed"), std::string::npos) << slow.error().message;

  // Input the program does not read is dropped, not a SIGPIPE.
  auto ignore = run_checked({"true"}, big);
  EXPECT_TRUE(ignore.ok());
}

TEST(Command, CommandLineQuotesWhatAShellWouldSplit) {
  EXPECT_EQ(command_line({"ip", "-n", "a-b", "link"}), "ip -n a-b link");
  EXPECT_EQ(command_line({"sh", "-c", "echo it's"}), "sh -c 'echo it'\\''s'");
  EXPECT_EQ(command_line({"x", ""}), "x ''");
}

TEST(Command, FindProgramSearchesPathThenTheSbinFolders) {
  auto sh = find_program("sh");
  ASSERT_TRUE(sh.ok()) << sh.error().message;
  EXPECT_EQ(sh->front(), '/');
  auto missing = find_program("coedge-no-such-program");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
  EXPECT_NE(missing.error().message.find("/usr/sbin"), std::string::npos) << missing.error().message;
  EXPECT_EQ(find_program("").error().code, ErrorCode::kInvalidInput);
}

}  // namespace
}  // namespace coedge::os
