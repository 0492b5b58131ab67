#include <catch2/catch.hpp>

#include "imashim/runtime/runc_cli.hpp"

using namespace imashim::runtime;

namespace {
RuncCommand parse(std::vector<std::string> argv) {
  auto r = parse_runc_command(std::move(argv));
  REQUIRE(r.ok());
  return std::move(r).value();
}
}  // namespace

TEST_CASE("runc cli: containerd's create call") {
  auto c = parse({"ima-runc", "--root", "/run/containerd/runc/default", "--log", "/x/log.json", "--log-format",
                  "json", "create", "--bundle", "/b", "--pid-file", "/b/init.pid", "--console-socket", "/s.sock",
                  "abc123"});
  CHECK(c.role() == CommandRole::create);
  CHECK(c.command == "create");
  CHECK(c.global("root") == "/run/containerd/runc/default");
  CHECK(c.global("log") == "/x/log.json");
  CHECK(c.global("log-format") == "json");
  CHECK(c.flag("bundle") == "/b");
  CHECK(c.flag("pid-file") == "/b/init.pid");
  CHECK(c.flag("console-socket") == "/s.sock");
  CHECK(c.container_id() == "abc123");
  CHECK(c.global_args() ==
        std::vector<std::string>{"--root", "/run/containerd/runc/default", "--log", "/x/log.json", "--log-format", "json"});
}

TEST_CASE("runc cli: every spelling of a flag") {
  for (auto spelling : std::vector<std::vector<std::string>>{{"--bundle", "/b"}, {"--bundle=/b"}, {"-b", "/b"},
                                                             {"-bundle", "/b"}, {"-b=/b"}}) {
    std::vector<std::string> argv{"ima-runc", "create"};
    argv.insert(argv.end(), spelling.begin(), spelling.end());
    argv.push_back("id1");
    auto c = parse(argv);
    CHECK(c.flag("bundle") == "/b");
    CHECK(c.container_id() == "id1");
  }
  // Flags after the id (urfave/cli moves them forward) and podman's `--log-format=json`.
  auto c = parse({"runc", "--log-format=json", "--log", "l", "create", "id2", "--bundle", "/b", "--pid-file", "p"});
  CHECK(c.container_id() == "id2");
  CHECK(c.flag("bundle") == "/b");
  CHECK(c.global("log-format") == "json");
}

TEST_CASE("runc cli: bool flags take no value; unknown flags are kept") {
  auto c = parse({"ima-runc", "--debug", "--systemd-cgroup", "run", "-d", "--keep", "--future-flag", "id3"});
  CHECK(c.role() == CommandRole::run);
  CHECK(c.flag_set("detach"));
  CHECK(c.flag_set("keep"));
  CHECK_FALSE(c.flag_set("no-subreaper"));
  CHECK(c.container_id() == "id3");
  REQUIRE(c.flags.size() == 3);
  CHECK_FALSE(c.flags[2].known);
  CHECK(c.flags[2].name == "future-flag");
  CHECK(c.global("debug") == "true");
  auto d = parse({"ima-runc", "run", "--detach=false", "id4"});
  CHECK_FALSE(d.flag_set("detach"));
}

TEST_CASE("runc cli: roles of the subcommands") {
  CHECK(parse({"r", "delete", "--force", "x"}).role() == CommandRole::remove);
  CHECK(parse({"r", "delete", "--force", "x"}).flag_set("force"));
  for (auto name : {"start", "exec", "state", "kill", "list", "ps", "pause", "resume", "update", "events", "spec",
                    "features", "checkpoint", "restore"}) {
    INFO(name);
    REQUIRE(find_command(name) != nullptr);
    CHECK(parse({"r", name, "x"}).role() == CommandRole::pass_through);
  }
  CHECK(parse({"r", "--version"}).role() == CommandRole::pass_through);
  CHECK_FALSE(parse({"r", "--version"}).command_index.has_value());
  CHECK(parse({"r", "frobnicate", "x"}).spec == nullptr);
}

TEST_CASE("runc cli: exec's value flags do not swallow the id") {
  auto c = parse({"r", "--root", "/r", "exec", "--process", "/p.json", "--detach", "--pid-file", "/p", "--tty",
                  "--console-socket", "/s", "-e", "A=1", "-u", "0:0", "cid", "extra"});
  CHECK(c.container_id() == "cid");
  CHECK(c.positionals == std::vector<std::string>{"cid", "extra"});
  auto k = parse({"r", "kill", "--all", "cid", "KILL"});
  CHECK(k.positionals == std::vector<std::string>{"cid", "KILL"});
  auto dd = parse({"r", "run", "--bundle", "/b", "--", "-weird-id"});
  CHECK(dd.container_id() == "-weird-id");
}

TEST_CASE("runc cli: a value flag at the end without its value is an error") {
  auto r = parse_runc_command({"r", "create", "--bundle"});
  REQUIRE_FALSE(r.ok());
  CHECK_THAT(r.error().message(), Catch::Contains("--bundle") && Catch::Contains("value"));
  CHECK_FALSE(parse_runc_command({"r", "--root"}).ok());
}

TEST_CASE("container ids are safe path components") {
  CHECK(validate_container_id("abc-1_2.3+x").ok());
  CHECK_FALSE(validate_container_id("").ok());
  CHECK_FALSE(validate_container_id("..").ok());
  CHECK_FALSE(validate_container_id("a/b").ok());
  CHECK_FALSE(validate_container_id("a b").ok());
}
