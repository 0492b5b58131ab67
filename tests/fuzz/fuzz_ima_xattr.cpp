// libFuzzer: the security.ima decoder; whatever decodes must re-encode to the same bytes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "imashim/formats/ima_xattr.hpp"

using namespace imashim;
using namespace imashim::formats;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto x = ImaXattr::decode(ByteView(data, size));
  if (!x) return 0;
  (void)x->describe();
  auto back = x->encode();
  if (!back || back->size() != size || !std::equal(back->begin(), back->end(), data)) std::abort();
  return 0;
}
