#include "imashim/formats/pcr.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>

namespace imashim::formats {

Result<PcrBank> PcrBank::create(HashAlgo algo) {
  IMASHIM_TRY(Hasher h, Hasher::create(algo));
  return PcrBank(std::move(h));
}

Bytes& PcrBank::slot(std::uint32_t index) {
  Bytes& v = values_[index];
  if (v.empty()) v.assign(digest_size(), 0);
  return v;
}

Result<void> PcrBank::extend(std::uint32_t index, ByteView digest) {
  if (digest.size() != digest_size())
    return fail(fmt::format("cannot extend {} PCR {} with a {}-byte digest", hash_algo_name(algo_), index,
                            digest.size()));
  Bytes& v = slot(index);
  hasher_.reset();
  hasher_.update(v);
  hasher_.update(digest);
  v = hasher_.finish();
  return {};
}

void PcrBank::extend_violation(std::uint32_t index) {
  Bytes ff(digest_size(), 0xff);
  (void)extend(index, ff);
}

Bytes PcrBank::value(std::uint32_t index) const {
  auto it = values_.find(index);
  return it == values_.end() ? Bytes(formats::digest_size(algo_), 0) : it->second;
}

Result<std::vector<PcrBank>> make_pcr_banks(std::span<const HashAlgo> algos) {
  std::vector<PcrBank> banks;
  for (HashAlgo a : algos) {
    if (find_bank(banks, a)) continue;
    IMASHIM_TRY(PcrBank b, PcrBank::create(a));
    banks.push_back(std::move(b));
  }
  return banks;
}

PcrBank* find_bank(std::vector<PcrBank>& banks, HashAlgo algo) {
  for (auto& b : banks)
    if (b.algo() == algo) return &b;
  return nullptr;
}
const PcrBank* find_bank(const std::vector<PcrBank>& banks, HashAlgo algo) {
  for (const auto& b : banks)
    if (b.algo() == algo) return &b;
  return nullptr;
}

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

std::vector<std::string_view> lines_of(std::string_view text) {
  std::vector<std::string_view> out;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    out.push_back(text.substr(pos, nl - pos));
    pos = nl + 1;
  }
  return out;
}

// Hex with optional "0x" and optional spaces between bytes (TPM 1.2 sysfs style).
Result<Bytes> digest_hex(std::string_view s, std::optional<HashAlgo> bank) {
  s = trim(s);
  if (s.size() >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) s.remove_prefix(2);
  std::string compact;
  for (char c : s)
    if (c != ' ' && c != '\t') compact.push_back(c);
  IMASHIM_TRY(Bytes b, from_hex(compact));
  if (bank && b.size() != digest_size(*bank))
    return fail(fmt::format("a {} PCR value has {} bytes, this one {}", hash_algo_name(*bank), digest_size(*bank),
                            b.size()));
  return b;
}

Result<std::uint32_t> pcr_index(std::string_view s) {
  s = trim(s);
  std::uint32_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || s.empty())
    return fail(fmt::format("'{}' is not a PCR index", s));
  if (v >= kPcrCount) return fail(fmt::format("PCR index {} is out of range (0..{})", v, kPcrCount - 1));
  return v;
}

Result<HashAlgo> bank_named(std::string_view name) {
  auto a = hash_algo_from_name(trim(name));
  if (!a) return fail(fmt::format("unknown PCR bank '{}'", trim(name)));
  return *a;
}

// A bank not named: the algorithm with that digest size (sha1, sha256, sha384, sha512).
Result<HashAlgo> bank_by_size(std::string_view hex) {
  IMASHIM_TRY(Bytes b, digest_hex(hex, std::nullopt));
  for (HashAlgo a : {HashAlgo::sha1, HashAlgo::sha256, HashAlgo::sha384, HashAlgo::sha512})
    if (digest_size(a) == b.size()) return a;
  return fail(fmt::format("a {}-byte PCR value matches no bank; name the bank (BANK,FILE)", b.size()));
}

Result<void> parse_evmctl_style(const std::vector<std::string_view>& lines, std::optional<HashAlgo> bank_opt,
                                PcrValues& out) {
  HashAlgo bank = HashAlgo::sha1;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    std::string_view l = trim(lines[i]);
    if (l.empty()) continue;
    auto err = [&](const Error& e) { return fail(fmt::format("line {}: {}", i + 1, e.message())); };
    if (l.substr(0, 4) != "PCR-") return fail(fmt::format("line {}: expected 'PCR-NN: <hex>'", i + 1));
    std::size_t colon = l.find(':');
    if (colon == std::string_view::npos) return fail(fmt::format("line {}: no ':' after the PCR index", i + 1));
    auto idx = pcr_index(l.substr(4, colon - 4));
    if (!idx) return err(idx.error());
    if (!bank_opt) {
      auto b = bank_by_size(l.substr(colon + 1));
      if (!b) return err(b.error());
      bank_opt = *b;
    }
    bank = *bank_opt;
    auto v = digest_hex(l.substr(colon + 1), bank);
    if (!v) return err(v.error());
    out[bank][*idx] = std::move(*v);
  }
  return {};
}

Result<void> parse_tpm2_style(const std::vector<std::string_view>& lines, PcrValues& out) {
  std::optional<HashAlgo> bank;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    std::string_view l = trim(lines[i]);
    if (l.empty()) continue;
    auto err = [&](const Error& e) { return fail(fmt::format("line {}: {}", i + 1, e.message())); };
    std::size_t colon = l.find(':');
    if (colon == std::string_view::npos) return fail(fmt::format("line {}: expected 'BANK:' or 'N: 0x<hex>'", i + 1));
    if (trim(l.substr(colon + 1)).empty()) {
      auto b = bank_named(l.substr(0, colon));
      if (!b) return err(b.error());
      bank = *b;
      continue;
    }
    if (!bank) return fail(fmt::format("line {}: a PCR value before any 'BANK:' line", i + 1));
    auto idx = pcr_index(l.substr(0, colon));
    if (!idx) return err(idx.error());
    auto v = digest_hex(l.substr(colon + 1), *bank);
    if (!v) return err(v.error());
    out[*bank][*idx] = std::move(*v);
  }
  return {};
}

}  // namespace

Result<PcrValues> parse_pcr_text(std::string_view text, std::optional<HashAlgo> bank, std::uint32_t bare_index) {
  PcrValues out;
  auto lines = lines_of(text);
  std::string_view first;
  for (auto l : lines)
    if (!trim(l).empty()) {
      first = trim(l);
      break;
    }
  if (first.empty()) return fail("no PCR values");
  if (first.substr(0, 4) == "PCR-") {
    IMASHIM_TRY_VOID(parse_evmctl_style(lines, bank, out));
  } else if (first.find(':') != std::string_view::npos) {
    IMASHIM_TRY_VOID(parse_tpm2_style(lines, out));
  } else {
    if (!bank) {
      auto b = bank_by_size(first);
      if (!b) return std::move(b).with_context("bare PCR value");
      bank = *b;
    }
    HashAlgo b = *bank;
    auto v = digest_hex(first, b);
    if (!v) return std::move(v).with_context("bare PCR value");
    out[b][bare_index] = std::move(*v);
  }
  if (bank && !out.count(*bank)) return fail(fmt::format("no {} PCR values", hash_algo_name(*bank)));
  return out;
}

Result<void> parse_pcr_arg(std::string_view arg, PcrValues& into) {
  std::size_t c1 = arg.find(':');
  if (c1 == std::string_view::npos) return fail(fmt::format("--pcr '{}': expected BANK:HEX or BANK:INDEX:HEX", arg));
  IMASHIM_TRY(HashAlgo bank, bank_named(arg.substr(0, c1)));
  std::string_view rest = arg.substr(c1 + 1);
  std::uint32_t index = kImaPcr;
  if (std::size_t c2 = rest.find(':'); c2 != std::string_view::npos) {
    auto idx = pcr_index(rest.substr(0, c2));
    if (!idx) return std::move(idx).with_context(fmt::format("--pcr '{}'", arg));
    index = *idx;
    rest = rest.substr(c2 + 1);
  }
  auto v = digest_hex(rest, bank);
  if (!v) return std::move(v).with_context(fmt::format("--pcr '{}'", arg));
  into[bank][index] = std::move(*v);
  return {};
}

std::string format_pcrs_evmctl(const PcrBank& bank) {
  std::string out;
  for (std::uint32_t i = 0; i < kPcrCount; ++i) out += fmt::format("PCR-{:02d}: {}\n", i, to_hex(bank.value(i)));
  return out;
}

std::string format_pcrs_tpm2(const std::vector<PcrBank>& banks) {
  std::string out;
  for (const auto& b : banks) {
    out += fmt::format("{}:\n", hash_algo_name(b.algo()));
    for (const auto& [i, v] : b.values()) {
      std::string hex = to_hex(v);
      std::transform(hex.begin(), hex.end(), hex.begin(), [](char c) { return static_cast<char>(std::toupper(c)); });
      out += fmt::format("  {:<2}: 0x{}\n", i, hex);
    }
  }
  return out;
}

Result<Bytes> boot_aggregate(HashAlgo algo, std::span<const Bytes> pcrs) {
  std::size_t n = algo == HashAlgo::sha1 ? 8 : 10;
  if (pcrs.size() < n) return fail(fmt::format("boot_aggregate ({}) needs PCRs 0..{}", hash_algo_name(algo), n - 1));
  IMASHIM_TRY(Hasher h, Hasher::create(algo));
  for (std::size_t i = 0; i < n; ++i) {
    if (pcrs[i].size() != digest_size(algo))
      return fail(fmt::format("boot_aggregate: PCR {} has {} bytes, {} needs {}", i, pcrs[i].size(),
                              hash_algo_name(algo), digest_size(algo)));
    h.update(pcrs[i]);
  }
  return h.finish();
}

}  // namespace imashim::formats
