// Tests of the child-process and JSON-line helpers (tests/testutil/child_process.hpp) that the
// interop and multi-process tests rely on.
#include "testutil/child_process.hpp"

#include <csignal>
#include <exception>
#include <optional>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <gtest/gtest.h>

namespace hivemind::testing {
namespace {

using namespace std::chrono_literals;

ChildProcess shell(const std::string& script, bool merge_stderr = false) {
  ChildOptions options;
  options.argv = {"/bin/sh", "-c", script};
  options.env = {"HM_CHILD_TEST=from-parent"};
  options.merge_stderr = merge_stderr;
  auto child = ChildProcess::spawn(std::move(options));
  EXPECT_TRUE(child) << child.error().message();
  return std::move(*child);
}

TEST(ChildProcess, ReadsLinesThenEndOfOutputAndExitCode) {
  auto child = shell("echo one; printf 'two\\nthree'; exit 7");
  auto one = child.read_line(10s);
  ASSERT_TRUE(one) << one.error().message();
  EXPECT_EQ(*one, "one");
  auto two = child.read_line(10s);
  ASSERT_TRUE(two);
  EXPECT_EQ(*two, "two");
  auto end = child.read_line(10s);  // "three" has no newline: not a line
  ASSERT_FALSE(end);
  EXPECT_EQ(end.error(), std::errc::broken_pipe);
  EXPECT_NE(end.error().message().find("three"), std::string::npos) << end.error().message();
  auto code = child.wait(10s);
  ASSERT_TRUE(code);
  EXPECT_EQ(*code, 7);
  EXPECT_EQ(child.history().size(), 2u);
}

TEST(ChildProcess, PassesEnvironmentAndStdinEof) {
  auto child = shell("echo \"$HM_CHILD_TEST\"; cat >/dev/null; echo stdin-closed");
  auto env = child.read_line(10s);
  ASSERT_TRUE(env);
  EXPECT_EQ(*env, "from-parent");
  auto early = child.read_line(50ms);  // cat waits for EOF on stdin
  ASSERT_FALSE(early);
  EXPECT_EQ(early.error(), std::errc::timed_out);
  child.close_stdin();
  auto after = child.read_line(10s);
  ASSERT_TRUE(after) << after.error().message();
  EXPECT_EQ(*after, "stdin-closed");
  EXPECT_EQ(child.wait(10s).value_or(-1), 0);
}

TEST(ChildProcess, MergesStderrAndBoundsLineLength) {
  auto merged = shell("echo err 1>&2", /*merge_stderr=*/true);
  auto line = merged.read_line(10s);
  ASSERT_TRUE(line) << line.error().message();
  EXPECT_EQ(*line, "err");

  ChildOptions options;
  options.argv = {"/bin/sh", "-c", "head -c 5000 /dev/zero | tr '\\0' x; echo"};
  options.max_line = 1000;
  auto child = ChildProcess::spawn(std::move(options));
  ASSERT_TRUE(child);
  auto too_long = child->read_line(10s);
  ASSERT_FALSE(too_long);
  EXPECT_EQ(too_long.error(), std::errc::message_size);
}

TEST(ChildProcess, KillsAndReportsSignal) {
  auto child = shell("echo ready; exec sleep 1000");
  ASSERT_TRUE(child.read_line(10s));
  EXPECT_FALSE(child.wait(20ms));
  child.signal(SIGTERM);
  auto code = child.wait(10s);
  ASSERT_TRUE(code) << code.error().message();
  EXPECT_EQ(*code, 128 + SIGTERM);
  auto missing = ChildProcess::spawn(ChildOptions{{"/nonexistent/program"}, {}, false, 1024});
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error(), std::errc::no_such_file_or_directory);
}

TEST(ChildProcess, AsyncReadsJsonWithoutBlockingTheIoContext) {
  asio::io_context io;
  auto child = shell("echo 'not json'; echo '{\"event\":\"x\"}'; echo '{\"event\":\"y\",\"n\":3}'");
  int ticks = 0;
  // A plain completion handler runs on `io` itself. (With asio::use_future, a coroutine that
  // finishes without ever suspending -- the child may be done before the first poll -- has its
  // completion posted to asio's system executor, another thread, so the future could still be
  // pending when run_for() returns.)
  std::optional<std::exception_ptr> done;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        auto y = co_await child.async_read_json(
            [](const JsonValue& v) { return v["event"].as_string() == "y"; }, 10s);
        EXPECT_TRUE(y) << y.error().message();
        if (y) {
          EXPECT_EQ((*y)["n"].as_number(), 3.0);
        }
        auto code = co_await child.async_wait(10s);
        EXPECT_TRUE(code && *code == 0);
      },
      [&](std::exception_ptr e) { done = e; });
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        ++ticks;  // another coroutine got to run meanwhile
        co_return;
      },
      asio::detached);
  io.run_for(20s);
  ASSERT_TRUE(done.has_value()) << "the coroutine did not finish while the io_context ran";
  if (*done)
    std::rethrow_exception(*done);
  EXPECT_EQ(ticks, 1);
  EXPECT_EQ(child.history().size(), 3u);
}

TEST(JsonParse, ParsesTheShapesTestPeersPrint) {
  auto v = parse_json(
      R"( {"event":"result","ok":true,"n":-1.5e2,"s":"a\"b\\c\u00e9\ud83d\ude00","a":[1,[],{}],"z":null} )");
  ASSERT_TRUE(v) << v.error().message();
  EXPECT_EQ((*v)["event"].as_string(), "result");
  EXPECT_TRUE((*v)["ok"].as_bool());
  EXPECT_EQ((*v)["n"].as_number(), -150.0);
  EXPECT_EQ((*v)["s"].as_string(), "a\"b\\c\xc3\xa9\xf0\x9f\x98\x80");
  EXPECT_EQ((*v)["a"].as_array().size(), 3u);
  EXPECT_TRUE((*v)["z"].is_null());
  EXPECT_TRUE((*v)["missing"].is_null());
  EXPECT_EQ((*v)["missing"]["deeper"].as_string("fallback"), "fallback");
  EXPECT_EQ((*v)["ok"].as_number(42), 42.0);  // wrong type -> fallback
}

TEST(JsonParse, RefusesMalformedInput) {
  for (const char* bad : {"",
                          "{",
                          "{\"a\":}",
                          "[1,]",
                          "{\"a\" 1}",
                          "\"\\x\"",
                          "\"\\ud800\"",
                          "01x",
                          "tru",
                          "{} {}",
                          "\"a\nb\"",
                          "-",
                          "1.",
                          "1e"}) {
    auto v = parse_json(bad);
    EXPECT_FALSE(v) << "accepted: " << bad;
    if (!v) {
      EXPECT_EQ(v.error(), std::errc::invalid_argument);
    }
  }
  EXPECT_FALSE(parse_json(std::string(100, '[') + std::string(100, ']')));  // too deep
  EXPECT_TRUE(parse_json(std::string(60, '[') + std::string(60, ']')));
}

}  // namespace
}  // namespace hivemind::testing
