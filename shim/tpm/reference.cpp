#include "imashim/tpm/reference.hpp"

#include <algorithm>
#include <array>
#include <ctime>


namespace imashim::tpm {
namespace {

struct VerdictName {
  FileVerdict verdict;
  std::string_view name;
};
constexpr std::array<VerdictName, 4> kVerdicts{{{FileVerdict::ok, "ok"},
                                                {FileVerdict::unknown_file, "unknown file"},
                                                {FileVerdict::wrong_digest, "wrong digest"},
                                                {FileVerdict::excluded, "excluded"}}};

// Keylime's generator ids: 0 is "Unknown" (not made by a Keylime tool).
constexpr int kKeylimeGeneratorUnknown = 0;
constexpr int kKeylimePolicyVersion = 1;

Result<const nlohmann::json*> member(const nlohmann::json& j, const char* key, nlohmann::json::value_t type,
                                     std::string_view source) {
  auto it = j.find(key);
  if (it == j.end()) return fail(std::string(source) + ": Keylime policy has no \"" + key + "\"");
  bool ok = it->type() == type ||
            (type == nlohmann::json::value_t::number_integer && it->is_number_unsigned());
  if (!ok) return fail(std::string(source) + ": Keylime policy member \"" + key + "\" has the wrong type");
  return &*it;
}

Result<void> load_digests(const nlohmann::json& digests, std::string_view source, Reference& ref) {
  for (const auto& [path, list] : digests.items()) {
    if (!list.is_array() || list.empty())
      return fail(std::string(source) + ": digests[\"" + path + "\"] must be a non-empty array");
    for (const auto& d : list) {
      auto bytes = d.is_string() ? from_hex(d.get<std::string>()) : Result<Bytes>(fail("not a string"));
      if (!bytes) return fail(std::string(source) + ": digests[\"" + path + "\"]: " + bytes.error().message());
      ref.add(path, *bytes);
    }
  }
  return {};
}

}  // namespace

std::string_view verdict_name(FileVerdict verdict) {
  for (const auto& v : kVerdicts)
    if (v.verdict == verdict) return v.name;
  return "?";
}

void Reference::add(const std::string& path, ByteView digest) {
  auto& list = digests_[path];
  std::string hex = to_hex(digest);
  if (std::find(list.begin(), list.end(), hex) == list.end()) list.push_back(std::move(hex));
}

Result<void> Reference::add_exclude(const std::string& regex) {
  try {
    excludes_.emplace_back(regex, std::regex::ECMAScript);
  } catch (const std::regex_error& e) {
    return fail("exclude `" + regex + "` is not a valid regular expression: " + e.what());
  }
  exclude_text_.push_back(regex);
  return {};
}

FileVerdict Reference::check(std::string_view path, ByteView digest) const {
  for (const auto& re : excludes_)
    if (std::regex_search(path.begin(), path.end(), re, std::regex_constants::match_continuous))
      return FileVerdict::excluded;
  auto it = digests_.find(path);
  if (it == digests_.end()) return FileVerdict::unknown_file;
  std::string hex = to_hex(digest);
  bool match = std::find(it->second.begin(), it->second.end(), hex) != it->second.end();
  return match ? FileVerdict::ok : FileVerdict::wrong_digest;
}

Result<Reference> reference_from_keylime(std::string_view json_text, std::string_view source) {
  nlohmann::json j = nlohmann::json::parse(json_text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return fail(std::string(source) + ": not a JSON object");
  if (j.contains("payload"))
    return fail(std::string(source) + ": a signed (DSSE) Keylime policy; give the unsigned policy");
  using T = nlohmann::json::value_t;
  IMASHIM_TRY(const nlohmann::json* meta, member(j, "meta", T::object, source));
  IMASHIM_TRY(const nlohmann::json* version, member(*meta, "version", T::number_integer, source));
  if (version->get<long long>() != kKeylimePolicyVersion)
    return fail(std::string(source) + ": Keylime policy version " + version->dump() + " (only version 1 is known)");
  IMASHIM_TRY(const nlohmann::json* digests, member(j, "digests", T::object, source));
  IMASHIM_TRY(const nlohmann::json* excludes, member(j, "excludes", T::array, source));
  IMASHIM_TRY(const nlohmann::json* ima, member(j, "ima", T::object, source));
  IMASHIM_TRY(auto keyrings, member(j, "keyrings", T::object, source));
  IMASHIM_TRY(auto buf, member(j, "ima-buf", T::object, source));
  (void)ima;
  (void)keyrings;
  (void)buf;
  Reference ref;
  IMASHIM_TRY_VOID(load_digests(*digests, source, ref));
  for (const auto& e : *excludes) {
    if (!e.is_string()) return fail(std::string(source) + ": excludes must hold strings");
    IMASHIM_TRY_VOID(ref.add_exclude(e.get<std::string>()));
  }
  return ref;
}

nlohmann::json keylime_policy(const Reference& reference, const KeylimeExportOptions& options) {
  nlohmann::json digests = nlohmann::json::object();
  for (const auto& [path, list] : reference.digests()) digests[path] = list;
  char stamp[32];
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return {
      {"meta", {{"version", kKeylimePolicyVersion}, {"generator", kKeylimeGeneratorUnknown}, {"timestamp", stamp}}},
      {"release", options.release},
      {"digests", digests},
      {"excludes", options.excludes},
      {"keyrings", nlohmann::json::object()},
      {"ima", {{"ignored_keyrings", nlohmann::json::array()}, {"log_hash_alg", options.log_hash_alg}, {"dm_policy", nullptr}}},
      {"ima-buf", nlohmann::json::object()},
      {"verification-keys", ""},
  };
}

}  // namespace imashim::tpm
