#include "imashim/runtime/hook.hpp"

#include <cstdio>

#include <fmt/format.h>

#include "context.hpp"
#include <nlohmann/json.hpp>

namespace imashim::runtime {
namespace {

using nlohmann::json;

constexpr std::pair<std::string_view, HookStage> kStages[] = {
    {"createRuntime", HookStage::create_runtime}, {"prestart", HookStage::create_runtime},
    {"poststop", HookStage::poststop},
};

Result<void> create_runtime(const HookState& st, const Pipeline& pipeline) {
  IMASHIM_TRY(auto node, in_context(load_node_config(), "config"));
  if (st.pid <= 0) return fail(fmt::format("container {}: the state has no pid", st.id));
  IMASHIM_TRY(auto prepared, prepare(node, st.id, st.bundle, pipeline));
  if (!prepared) return {};  // mode off
  IMASHIM_TRY(auto state, attach(*prepared, st.pid));
  for (const auto& note : state.notes) std::fprintf(stderr, "ima-oci-hook: note: %s\n", note.c_str());
  return {};
}

Result<void> poststop(const HookState& st, const Pipeline& pipeline) {
  IMASHIM_TRY(auto node, in_context(load_node_config(), "config"));
  return finalize(node, st.id, pipeline);
}

}  // namespace

Result<HookState> parse_hook_state(std::string_view text) {
  auto j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return fail("OCI state on stdin: not a JSON object");
  HookState s;
  if (!j.contains("id") || !j["id"].is_string()) return fail("OCI state on stdin: \"id\" missing");
  s.id = j["id"].get<std::string>();
  s.status = j.value("status", std::string());
  if (j.contains("pid") && j["pid"].is_number_integer()) s.pid = j["pid"].get<pid_t>();
  s.bundle = j.value("bundle", std::string());
  if (s.bundle.empty()) return fail("OCI state on stdin: \"bundle\" missing");
  return s;
}

Result<HookStage> hook_stage(const std::vector<std::string>& argv, const HookState& state) {
  std::string_view name = argv.size() > 1 ? std::string_view(argv[1]) : std::string_view();
  if (name.empty()) name = state.status == "stopped" ? "poststop" : "createRuntime";
  for (const auto& [n, stage] : kStages)
    if (n == name) return stage;
  return fail(fmt::format("unknown hook stage \"{}\" (expected createRuntime or poststop)", name));
}

int oci_hook_main(const std::vector<std::string>& argv, std::string_view stdin_text, const Pipeline& pipeline) {
  auto st = parse_hook_state(stdin_text);
  Result<void> r = st ? Result<void>() : fail(st.error());
  if (st) {
    auto stage = hook_stage(argv, *st);
    if (!stage)
      r = fail(stage.error());
    else
      r = *stage == HookStage::create_runtime ? create_runtime(*st, pipeline) : poststop(*st, pipeline);
  }
  if (r) return 0;
  std::fprintf(stderr, "ima-oci-hook: %s%s\n", st ? fmt::format("container {}: ", st->id).c_str() : "",
               r.error().message().c_str());
  return 1;
}

}  // namespace imashim::runtime
