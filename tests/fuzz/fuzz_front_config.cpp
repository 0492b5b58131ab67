// libFuzzer: ima-runc's front end (front_core.cpp) reads node configs and
// bundle configs without a C library; it must never be looser than the full
// implementation. Whatever the input: if the front end accepts a node config,
// parse_node_config accepts it with the same mode, backend and paths; if it
// finds that a bundle config keeps a container in mode off, the full
// implementation's bundle and annotation reading agrees.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include <nlohmann/json.hpp>

#include "imashim/runtime/bundle.hpp"
#include "imashim/runtime/config.hpp"
#include "imashim/runtime/front_core.hpp"

using namespace imashim::runtime;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] & 1) {
    if (!front::annotations_keep_off(text)) return 0;
    auto j = nlohmann::json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.is_object()) std::abort();
    auto annotations = read_annotations(j);
    if (!annotations) std::abort();
    NodeConfig node;
    node.mode = imashim::backends::Mode::off;
    auto settings = container_settings(node, *annotations);
    if (!settings || settings->mode != imashim::backends::Mode::off) std::abort();
    return 0;
  }
  front::NodeView view;
  if (!front::read_node_config(text, view)) return 0;
  auto full = parse_node_config(text, "fuzz");
  if (!full) std::abort();
  if (view.mode_off != (full->mode == imashim::backends::Mode::off)) std::abort();
  if (view.backend_off != (full->backend == BackendChoice::off)) std::abort();
  if (std::filesystem::path(std::string(view.state_root)).lexically_normal() != full->state_root) std::abort();
  if (std::filesystem::path(std::string(view.runc_path)).lexically_normal() != full->runc_path) std::abort();
  return 0;
}
