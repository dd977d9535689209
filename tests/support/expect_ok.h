// The value of a Result a test expects to succeed: a failure is a test failure carrying the
// error's message (and taking the value then throws, which ends the test). Header-only,
// test code only.
#pragma once

#include <string>
#include <utility>

#include <gtest/gtest.h>

#include "core/result.h"

namespace coedge::test {

template <typename T>
T expect_ok(Result<T> r) {
  EXPECT_TRUE(r.ok()) << (r.ok() ? std::string() : r.error().message);
  return std::move(r).value();
}

}  // namespace coedge::test
