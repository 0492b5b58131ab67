// libFuzzer: the binary measurement log reader, ascii printer, replay and the
// re-encoding of what was read (which must reproduce the input bytes).
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "imashim/formats/measurement_log.hpp"

using namespace imashim;
using namespace imashim::formats;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  ByteView log(data, size);
  for (ByteOrder order : {ByteOrder::little, ByteOrder::big}) {
    LogReadOptions opts;
    opts.order = order;
    LogReader r(log, opts);
    Bytes again;
    std::string ascii;
    for (;;) {
      auto e = r.next();
      if (!e || !*e) break;
      append_ascii_entry(ascii, **e);
      append_binary_entry(again, **e, order);
      (void)(*e)->file_digest();
      auto owned = to_entry(**e);
      if (!owned) std::abort();
    }
    // Everything read re-encodes to exactly the bytes it came from.
    if (again.size() != r.offset() || !std::equal(again.begin(), again.end(), data)) std::abort();
    ReplayOptions ro;
    ro.read = opts;
    (void)replay_log(log, ro);
  }
  return 0;
}
