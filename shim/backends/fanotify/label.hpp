// security.ima as the engine needs it: the kind of label and its digest or
// signature. Decoding is the formats module's; this is the engine's view.
#pragma once

#include <optional>

#include "imashim/formats/hash.hpp"
#include "imashim/util/bytes.hpp"
#include "imashim/util/result.hpp"

namespace imashim::backends::fanotify {

struct Label {
  enum class Kind { digest, signature, other };
  Kind kind = Kind::other;
  std::optional<formats::HashAlgo> algo;  // digest: its algorithm; signature: the signed digest's
  Bytes digest;                           // Kind::digest only
  unsigned type = 0;                      // the xattr's type byte
};

// Decodes security.ima; an error names what is malformed.
Result<Label> decode_label(ByteView xattr);
// security.ima holding `digest` (the kernel's IMA_XATTR_DIGEST_NG form).
Bytes encode_digest_label(formats::HashAlgo algo, ByteView digest);

}  // namespace imashim::backends::fanotify
