#include "imashim/backends/backend.hpp"

#include <array>
#include <utility>

namespace imashim::backends {
namespace {

constexpr std::array<std::pair<Kind, std::string_view>, 4> kKinds{{
    {Kind::ns_mount, "ns-mount"},
    {Kind::ns_user, "ns-user"},
    {Kind::host, "host"},
    {Kind::fanotify, "fanotify"},
}};
constexpr std::array<std::pair<Mode, std::string_view>, 4> kModes{{
    {Mode::off, "off"},
    {Mode::measure, "measure"},
    {Mode::log, "log"},
    {Mode::enforce, "enforce"},
}};

template <typename E, std::size_t N>
std::string_view name_of(const std::array<std::pair<E, std::string_view>, N>& table, E e) {
  for (const auto& [v, n] : table)
    if (v == e) return n;
  return "?";
}
template <typename E, std::size_t N>
std::optional<E> value_of(const std::array<std::pair<E, std::string_view>, N>& table, std::string_view name) {
  for (const auto& [v, n] : table)
    if (n == name) return v;
  return std::nullopt;
}

}  // namespace

std::string_view kind_name(Kind kind) { return name_of(kKinds, kind); }
std::optional<Kind> kind_from_name(std::string_view name) { return value_of(kKinds, name); }
std::string_view mode_name(Mode mode) { return name_of(kModes, mode); }
std::optional<Mode> mode_from_name(std::string_view name) { return value_of(kModes, name); }

nlohmann::json Attachment::to_json() const {
  return {{"backend", kind_name(kind)}, {"nsid", nsid}, {"monitor_pid", monitor_pid}, {"extra", extra}};
}

Result<Attachment> Attachment::from_json(const nlohmann::json& j) {
  if (!j.is_object()) return fail("attachment: not a JSON object");
  Attachment a;
  auto backend = j.value("backend", std::string());
  auto kind = kind_from_name(backend);
  if (!kind) return fail("attachment: unknown backend \"" + backend + "\"");
  a.kind = *kind;
  a.nsid = j.value("nsid", std::string());
  a.monitor_pid = j.value("monitor_pid", -1);
  if (j.contains("extra")) a.extra = j["extra"];
  return a;
}

}  // namespace imashim::backends
