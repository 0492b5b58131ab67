// libFuzzer: engine setup's in-place edits of containerd and podman TOML and
// docker JSON. Whatever the input, an edit is an error, or a file that a
// second setup accepts and leaves byte for byte as it is.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "imashim/node/engine_setup.hpp"

using namespace imashim::node;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);
  EngineSetup s;
  s.engine = static_cast<Engine>(data[0] % 3);
  s.make_default = data[0] & 4;
  s.force = data[0] & 8;
  s.binary = "/usr/local/bin/ima-runc";
  auto first = edit_engine_config(s, text, "fuzz");
  if (!first) return 0;
  auto second = edit_engine_config(s, first->text, "fuzz");
  if (!second || second->changed || second->text != first->text) std::abort();
  return 0;
}
