#include "label.hpp"

#include "imashim/formats/ima_xattr.hpp"

namespace imashim::backends::fanotify {

Result<Label> decode_label(ByteView xattr) {
  IMASHIM_TRY(auto x, formats::ImaXattr::decode(xattr));
  Label l;
  l.type = static_cast<unsigned>(x.type);
  l.algo = x.algo;
  if (x.sig) l.algo = x.sig->hash_algo;
  using T = formats::ImaXattrType;
  if (x.type == T::ima_digest || x.type == T::digest_ng) {
    l.kind = Label::Kind::digest;
    l.digest = x.digest;
  } else if (x.type == T::digsig && x.sig && x.sig->version == 2) {
    l.kind = Label::Kind::signature;
  }
  return l;
}

Bytes encode_digest_label(formats::HashAlgo algo, ByteView digest) {
  auto v = formats::encode_ima_digest(algo, digest);
  return v ? *v : Bytes{};
}

}  // namespace imashim::backends::fanotify
