// Byte buffers, hex text and fixed-width integer codecs shared by every format.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "imashim/util/result.hpp"

namespace imashim {

using Bytes = std::vector<std::uint8_t>;
using ByteView = std::span<const std::uint8_t>;

// Lower-case hex of `data`, as the kernel prints digests.
std::string to_hex(ByteView data);
// Parses hex (either case, even length); the error names the offending position.
Result<Bytes> from_hex(std::string_view hex);

inline ByteView as_bytes(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

// Appends integers in a fixed byte order.
void put_le32(Bytes& out, std::uint32_t v);
void put_be32(Bytes& out, std::uint32_t v);
void put_be16(Bytes& out, std::uint16_t v);
std::uint32_t get_le32(const std::uint8_t* p);
std::uint32_t get_be32(const std::uint8_t* p);
std::uint16_t get_be16(const std::uint8_t* p);

}  // namespace imashim
