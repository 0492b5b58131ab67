// The image-derived policy generator and the tightening-only merge.
#include "imashim/policy/generate.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "imashim/policy/builtin.hpp"

namespace imashim::policy {
namespace {

constexpr KernelVersion kTemplateSince{5, 5};
constexpr KernelVersion kAlgosSince{5, 15};

bool knows(const KernelFeatures& f, KernelVersion v) { return !f.version || *f.version >= v; }

Rule rule_from(std::string_view text, std::string comment) {
  auto r = parse_rule(text);
  if (!r.ok()) throw std::logic_error("generated rule does not parse: " + std::string(text));
  r->comments.push_back(std::move(comment));
  return std::move(*r);
}

// "3 programs (/bin/sh, /usr/bin/env, /bin/ls)", "1 program (/bin/sh)", "no programs".
std::string counted(const std::vector<const ImageFile*>& files, std::string_view noun) {
  if (files.empty()) return fmt::format("no {}s", noun);
  std::string out = fmt::format("{} {}{} (", files.size(), noun, files.size() == 1 ? "" : "s");
  for (std::size_t i = 0; i < files.size() && i < 3; ++i) out += (i ? ", " : "") + files[i]->path;
  return out + (files.size() > 3 ? ", ...)" : ")");
}

struct ImageFacts {
  std::vector<const ImageFile*> programs;  // exec bit or ELF executable
  std::vector<const ImageFile*> libraries;  // ELF shared objects without the exec bit
  std::map<std::uint32_t, std::vector<const ImageFile*>> by_owner;
};

ImageFacts facts_of(const std::vector<ImageFile>& files) {
  ImageFacts f;
  for (const auto& file : files) {
    if (file.executable() || file.elf == ElfType::executable)
      f.programs.push_back(&file);
    else if (file.elf == ElfType::shared_object)
      f.libraries.push_back(&file);
    f.by_owner[file.uid].push_back(&file);
  }
  return f;
}

struct Builder {
  const GenerateInput& in;
  PolicyMode mode;
  Generated out;

  bool appraising() const { return mode == PolicyMode::log || mode == PolicyMode::enforce; }

  std::string measure_options() const {
    std::string o;
    if (knows(in.kernel, kTemplateSince) && !in.node.template_name.empty())
      o += " template=" + in.node.template_name;
    if (in.node.pcr) o += fmt::format(" pcr={}", *in.node.pcr);
    return o;
  }
  std::string appraise_options() const {
    std::string o;
    if (knows(in.kernel, kAlgosSince))
      o += fmt::format(" appraise_algos={}", formats::hash_algo_name(in.node.hash));
    if (in.node.require_signatures) o += " appraise_type=imasig";
    return o;
  }
  void add(std::string text, std::string comment) {
    out.policy.rules.push_back(rule_from(text, std::move(comment)));
  }

  void volumes() {
    for (const auto& v : in.volumes) {
      if (!v.writable) continue;
      std::string cond = v.fsuuid ? "fsuuid=" + uuid_to_string(*v.fsuuid)
                         : v.fsmagic ? fmt::format("fsmagic=0x{:x}", *v.fsmagic)
                                     : "";
      if (cond.empty()) {
        out.notes.push_back(fmt::format("writable volume {}: its filesystem is unknown, and IMA "
                                        "cannot exclude a path; its files are treated as image files",
                                        v.destination));
        continue;
      }
      add(fmt::format("dont_appraise {}", cond),
          fmt::format("writable volume {}: the container writes it, its files carry no image labels",
                      v.destination));
    }
  }

  void pseudo_filesystems_skip(bool runtime_fs) {
    for (const auto& fs : pseudo_filesystems()) {
      bool is_runtime = fs.magic == kTmpfsMagic || fs.magic == kRamfsMagic;
      if (is_runtime != runtime_fs) continue;
      std::string why = runtime_fs
                            ? fmt::format("{}: written at run time, not image content (after the exec "
                                          "rules, so programs run from it are still checked)",
                                          fs.name)
                            : fmt::format("{} ({}): a pseudo filesystem, no stored content", fs.name, fs.macro);
      add(fmt::format("dont_measure fsmagic=0x{:x}", fs.magic), why);
      if (appraising()) add(fmt::format("dont_appraise fsmagic=0x{:x}", fs.magic), why);
    }
  }

  void exec_rules(const ImageFacts& f) {
    std::string entry;
    const auto& argv0 = !in.image.entrypoint.empty() ? in.image.entrypoint : in.image.cmd;
    if (!argv0.empty()) entry = fmt::format("; the image starts {}", argv0.front());
    std::string progs = fmt::format("the image has {}{}", counted(f.programs, "program"), entry);
    std::string libs = fmt::format("the image has {}", counted(f.libraries, "shared object"));
    add("measure func=BPRM_CHECK mask=MAY_EXEC" + measure_options(), progs + ": every program run is measured");
    add("measure func=MMAP_CHECK mask=MAY_EXEC" + measure_options(),
        libs + ": every library mapped executable is measured");
    if (!appraising()) return;
    add("appraise func=BPRM_CHECK mask=MAY_EXEC" + appraise_options(),
        progs + ": a program must match its label to run");
    add("appraise func=MMAP_CHECK mask=MAY_EXEC" + appraise_options(),
        libs + ": a library must match its label to be mapped executable");
  }

  void owner_rules(const ImageFacts& f) {
    if (!appraising()) return;
    for (const auto& [uid, files] : f.by_owner)
      add(fmt::format("appraise fowner={}{}", uid, appraise_options()),
          fmt::format("uid {} owns {} of the image: each is appraised when opened", uid,
                      counted(files, "file")));
  }
};

Result<PolicyMode> effective_mode(const GenerateInput& in) {
  auto it = in.annotations.find(std::string(kAnnotationMode));
  if (it == in.annotations.end()) return in.node.mode;
  auto m = policy_mode_from_name(it->second);
  if (!m)
    return fail(fmt::format("annotation {}={}: not a mode (off, measure, log, enforce)", kAnnotationMode,
                            it->second));
  if (*m < in.node.mode)
    return fail(fmt::format("annotation {}={} would loosen the node's mode {}", kAnnotationMode, it->second,
                            policy_mode_name(in.node.mode)));
  return *m;
}

Result<void> apply_annotations(const GenerateInput& in, Policy& policy) {
  if (auto it = in.annotations.find(std::string(kAnnotationProfile)); it != in.annotations.end()) {
    auto named = named_policy(it->second);
    if (!named.ok())
      return fail(fmt::format("annotation {}={}: {}", kAnnotationProfile, it->second, named.error().message()));
    // Its dont_* rules would only repeat the skips above; its do-rules add coverage.
    Policy extra;
    for (auto& r : named->rules)
      if (is_do_action(r.action)) extra.rules.push_back(std::move(r));
    IMASHIM_TRY_VOID(append_tightening(policy, extra, fmt::format("annotation {}={}", kAnnotationProfile, it->second)));
  }
  if (auto it = in.annotations.find(std::string(kAnnotationPolicy)); it != in.annotations.end()) {
    std::string source = fmt::format("annotation {}", kAnnotationPolicy);
    auto parsed = parse_policy_strict(it->second, source, in.kernel);
    if (!parsed.ok()) return fail(parsed.error());
    IMASHIM_TRY_VOID(append_tightening(policy, *parsed, source));
  }
  return {};
}

}  // namespace

std::string_view elf_type_name(ElfType t) {
  static constexpr std::string_view names[] = {"none", "relocatable", "executable", "shared-object", "core"};
  return names[static_cast<int>(t)];
}

ElfType elf_type_of(std::string_view h) {
  if (h.size() < 18 || h.substr(0, 4) != "\x7f" "ELF") return ElfType::none;
  auto b0 = static_cast<unsigned char>(h[16]), b1 = static_cast<unsigned char>(h[17]);
  unsigned type = h[5] == 2 ? (b0 << 8 | b1) : (b1 << 8 | b0);  // EI_DATA: 2 = big endian
  switch (type) {
    case 1: return ElfType::relocatable;
    case 2: return ElfType::executable;
    case 3: return ElfType::shared_object;
    case 4: return ElfType::core;
    default: return ElfType::none;
  }
}

ImageFile image_file_from_manifest(std::string path, std::uint32_t mode, std::uint32_t uid,
                                   std::uint32_t gid, std::uint64_t size) {
  std::string_view name = path;
  name.remove_prefix(std::min(name.size(), name.rfind('/') + 1));
  bool so = name.ends_with(".so") || name.find(".so.") != std::string_view::npos;
  return {std::move(path), mode & 07777, uid, gid, size, so ? ElfType::shared_object : ElfType::none};
}

std::vector<ImageFile> image_files_from_manifests(const std::vector<label::Manifest>& layers) {
  std::map<std::string_view, const label::ManifestEntry*> seen;
  for (const auto& layer : layers)
    for (const auto& e : layer.entries) seen.try_emplace(e.path, &e);
  std::vector<ImageFile> out;
  out.reserve(seen.size());
  for (const auto& [path, e] : seen) out.push_back(image_file_from_manifest(e->path, e->mode, e->uid, e->gid, e->size));
  return out;
}

std::string_view policy_mode_name(PolicyMode m) {
  static constexpr std::string_view names[] = {"off", "measure", "log", "enforce"};
  return names[static_cast<int>(m)];
}
std::optional<PolicyMode> policy_mode_from_name(std::string_view name) {
  for (auto m : {PolicyMode::off, PolicyMode::measure, PolicyMode::log, PolicyMode::enforce})
    if (policy_mode_name(m) == name) return m;
  return std::nullopt;
}

Result<ImageConfig> parse_image_config(std::string_view text, std::string_view source) {
  auto doc = nlohmann::json::parse(text, nullptr, false);
  if (doc.is_discarded() || !doc.is_object())
    return fail(fmt::format("{}: not a JSON object", source));
  const nlohmann::json& cfg = doc.contains("config") ? doc["config"] : doc;
  if (!cfg.is_object()) return fail(fmt::format("{}: \"config\" is not an object", source));
  ImageConfig out;
  auto strings = [&](const char* key, std::vector<std::string>& dst) -> Result<void> {
    if (!cfg.contains(key) || cfg[key].is_null()) return {};
    if (!cfg[key].is_array()) return fail(fmt::format("{}: \"{}\" is not an array of strings", source, key));
    for (const auto& v : cfg[key]) {
      if (!v.is_string()) return fail(fmt::format("{}: \"{}\" is not an array of strings", source, key));
      dst.push_back(v.get<std::string>());
    }
    return {};
  };
  if (cfg.contains("User") && !cfg["User"].is_null()) {
    if (!cfg["User"].is_string()) return fail(fmt::format("{}: \"User\" is not a string", source));
    out.user = cfg["User"].get<std::string>();
  }
  IMASHIM_TRY_VOID(strings("Entrypoint", out.entrypoint));
  IMASHIM_TRY_VOID(strings("Cmd", out.cmd));
  if (cfg.contains("Labels") && cfg["Labels"].is_object())
    for (const auto& [k, v] : cfg["Labels"].items())
      if (v.is_string()) out.labels[k] = v.get<std::string>();
  return out;
}

Result<void> append_tightening(Policy& base, const Policy& extra, std::string_view source) {
  for (const auto& r : extra.rules) {
    std::string where = r.line ? fmt::format("{} line {}", source, r.line) : std::string(source);
    if (!is_do_action(r.action))
      return fail(fmt::format("{}: `{}` would loosen the node's policy (only measure, appraise, audit "
                              "and hash rules may be added)",
                              where, to_string(r)));
    if (r.permit_directio)
      return fail(fmt::format("{}: `{}` would loosen the node's policy (permit_directio skips "
                              "appraisal of direct I/O)",
                              where, to_string(r)));
  }
  for (const auto& r : extra.rules) {
    Rule copy = r;
    copy.comments.insert(copy.comments.begin(), fmt::format("added by {}", source));
    base.rules.push_back(std::move(copy));
  }
  return {};
}

Result<Generated> generate_policy(const GenerateInput& in) {
  IMASHIM_TRY(PolicyMode mode, effective_mode(in));
  Builder b{in, mode, {}};
  b.out.mode = mode;
  if (mode == PolicyMode::off) {
    b.out.notes.push_back("mode off: the container gets no policy");
    return std::move(b.out);
  }
  if (!in.node.profile.empty() && in.node.profile != "default") {
    auto base = named_policy(in.node.profile);
    if (!base.ok()) return fail(fmt::format("node profile: {}", base.error().message()));
    for (auto& r : base->rules) {
      r.comments.insert(r.comments.begin(), fmt::format("node profile {}", in.node.profile));
      b.out.policy.rules.push_back(std::move(r));
    }
  }
  ImageFacts f = facts_of(in.files);
  b.volumes();
  b.pseudo_filesystems_skip(false);
  b.exec_rules(f);
  b.pseudo_filesystems_skip(true);
  b.owner_rules(f);
  IMASHIM_TRY_VOID(apply_annotations(in, b.out.policy));
  for (const auto& r : b.out.policy.rules)
    if (auto d = validate_rule(r, in.kernel))
      return fail(fmt::format("generated rule `{}` is not valid for the target kernel: {}", to_string(r),
                              d->message));
  if (!in.image.user.empty())
    b.out.notes.push_back(fmt::format("the image runs as user {}", in.image.user));
  return std::move(b.out);
}

}  // namespace imashim::policy
