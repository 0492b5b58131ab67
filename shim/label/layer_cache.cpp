// The per-layer label cache and layer labelling (layer_cache.hpp).
#include "imashim/label/layer_cache.hpp"
#include "imashim/os/file.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <ctime>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace imashim::label {

namespace {

using json = nlohmann::json;

Result<void> mkdir_p(const std::string& path, mode_t mode) {
  std::string cur;
  std::size_t pos = 0;
  while (pos != std::string::npos) {
    pos = path.find('/', pos + 1);
    cur = path.substr(0, pos);
    if (cur.empty()) continue;
    if (::mkdir(cur.c_str(), mode) != 0 && errno != EEXIST) return fail_errno("create directory `" + cur + "`");
  }
  return {};
}

// The fingerprint of a layer directory: birth time and mtime of the directory, and
// (name, inode, type, mtime) of each top-level entry, sorted by name.
Result<std::string> fingerprint(int dirfd, const std::string& dir) {
  struct statx sx {};
  if (::statx(dirfd, "", AT_EMPTY_PATH, STATX_BASIC_STATS | STATX_BTIME, &sx) != 0)
    return fail_errno("statx `" + dir + "`");
  std::string text = fmt::format("btime {}.{} mtime {}.{}\n", (sx.stx_mask & STATX_BTIME) ? sx.stx_btime.tv_sec : 0,
                                 (sx.stx_mask & STATX_BTIME) ? sx.stx_btime.tv_nsec : 0, sx.stx_mtime.tv_sec,
                                 sx.stx_mtime.tv_nsec);
  int dup_fd = ::fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
  DIR* d = dup_fd >= 0 ? ::fdopendir(dup_fd) : nullptr;
  if (!d) {
    if (dup_fd >= 0) ::close(dup_fd);
    return fail_errno("read directory `" + dir + "`");
  }
  std::vector<std::string> lines;
  while (struct dirent* de = ::readdir(d)) {
    std::string_view name = de->d_name;
    if (name == "." || name == "..") continue;
    struct stat st {};
    if (::fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
    lines.push_back(fmt::format("{} {} {:o} {}.{}\n", escape_path(name), st.st_ino, st.st_mode & S_IFMT,
                                st.st_mtim.tv_sec, st.st_mtim.tv_nsec));
  }
  ::closedir(d);
  std::sort(lines.begin(), lines.end());
  for (const auto& l : lines) text += l;
  IMASHIM_TRY(Bytes d2, formats::hash_bytes(formats::HashAlgo::sha256, as_bytes(text)));
  return to_hex(d2);
}

json record_to_json(const LayerRecord& r) {
  return json{{"version", 1},
              {"dev", r.id.dev},
              {"ino", r.id.ino},
              {"fingerprint", r.id.fingerprint},
              {"path", r.path},
              {"algo", std::string(formats::hash_algo_name(r.algo))},
              {"keyid", r.keyid ? json(fmt::format("{:08x}", *r.keyid)) : json(nullptr)},
              {"files", r.files},
              {"bytes", r.bytes},
              {"manifest_digest", r.manifest_digest},
              {"labelled_at", r.labelled_at}};
}

Result<LayerRecord> record_from_json(const std::string& text, const std::string& source) {
  try {
    json j = json::parse(text);
    if (j.at("version").get<int>() != 1) return fail(source + ": unsupported record version");
    LayerRecord r;
    r.id.dev = j.at("dev").get<std::uint64_t>();
    r.id.ino = j.at("ino").get<std::uint64_t>();
    r.id.fingerprint = j.at("fingerprint").get<std::string>();
    r.path = j.at("path").get<std::string>();
    auto algo = formats::hash_algo_from_name(j.at("algo").get<std::string>());
    if (!algo) return fail(source + ": unknown algorithm");
    r.algo = *algo;
    if (!j.at("keyid").is_null()) r.keyid = static_cast<std::uint32_t>(std::stoul(j.at("keyid").get<std::string>(), nullptr, 16));
    r.files = j.at("files").get<std::uint64_t>();
    r.bytes = j.at("bytes").get<std::uint64_t>();
    r.manifest_digest = j.at("manifest_digest").get<std::string>();
    r.labelled_at = j.at("labelled_at").get<std::int64_t>();
    return r;
  } catch (const std::exception& e) {
    return fail(source + ": bad layer record: " + e.what());
  }
}

LayerResult cached_result(const std::string& dir, const LayerIdentity& id, const LayerRecord& rec, const LayerCache& cache) {
  LayerResult r;
  r.dir = dir;
  r.id = id;
  r.from_cache = true;
  r.report.root = dir;
  r.report.files = rec.files;
  r.report.bytes = rec.bytes;
  r.manifest_path = cache.manifest_path(id);
  return r;
}

// Check mode against the layer's manifest: files added or removed since it was labelled,
// and files whose content digest is not the recorded one.
void compare_with_manifest(LabelReport& report, const Manifest& ref) {
  const Manifest& now = report.manifest;
  auto add = [&](std::string path, Finding f, std::string why) {
    report.findings.push_back(FileFinding{std::move(path), f, std::move(why)});
  };
  for (const auto& e : ref.entries) {
    const ManifestEntry* cur = now.find(e.path);
    if (!cur) {
      bool unreadable = std::any_of(report.findings.begin(), report.findings.end(),
                                    [&](const FileFinding& f) { return f.path == e.path; });
      if (!unreadable) add(e.path, Finding::removed, "listed in the layer manifest, not in the layer"), report.removed++;
    } else if (cur->algo == e.algo && cur->digest != e.digest) {
      add(e.path, Finding::changed, "content differs from the layer manifest (" + to_hex(e.digest) + ")");
      report.changed++;
    }
  }
  for (const auto& e : now.entries)
    if (!ref.find(e.path)) add(e.path, Finding::added, "not in the layer manifest"), report.added++;
  std::sort(report.findings.begin(), report.findings.end(), [](const auto& a, const auto& b) { return a.path < b.path; });
}

}  // namespace

std::string LayerIdentity::key() const { return fmt::format("{:x}-{:x}", dev, ino); }

Result<LayerIdentity> layer_identity(const std::string& dir) {
  os::UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) return fail_errno("open layer directory `" + dir + "`");
  IMASHIM_TRY(EntryStat st, stat_fd(fd.get()));
  LayerIdentity id;
  id.dev = st.dev;
  id.ino = st.ino;
  IMASHIM_TRY(id.fingerprint, fingerprint(fd.get(), dir));
  return id;
}

std::string LayerCache::manifest_path(const LayerIdentity& id) const { return root_ + "/" + id.key() + "/manifest"; }
std::string LayerCache::record_path(const LayerIdentity& id) const { return root_ + "/" + id.key() + "/record.json"; }

Result<std::optional<LayerRecord>> LayerCache::lookup(const LayerIdentity& id, formats::HashAlgo algo,
                                                      std::optional<std::uint32_t> keyid) const {
  std::string path = record_path(id);
  auto text = os::read_file(path);
  if (!text) {
    if (text.error().sys_errno() == ENOENT) return std::optional<LayerRecord>();
    return std::move(text).with_context("layer cache");
  }
  IMASHIM_TRY(LayerRecord rec, record_from_json(*text, path));
  if (!(rec.id == id) || rec.algo != algo || rec.keyid != keyid) return std::optional<LayerRecord>();
  // The manifest must be the one the record names: hash its bytes (no parsing: a warm
  // start of a big layer costs one sequential read).
  os::UniqueFd mfd(::open(manifest_path(id).c_str(), O_RDONLY | O_CLOEXEC));
  if (!mfd) return std::optional<LayerRecord>();
  auto md = formats::hash_fd(formats::HashAlgo::sha256, mfd.get());
  if (!md || "sha256:" + to_hex(*md) != rec.manifest_digest) return std::optional<LayerRecord>();
  return std::optional<LayerRecord>(std::move(rec));
}

Result<Manifest> LayerCache::manifest(const LayerIdentity& id) const { return read_manifest(manifest_path(id)); }

Result<void> LayerCache::store(const LayerRecord& record, const Manifest& manifest) {
  IMASHIM_TRY_VOID(mkdir_p(root_ + "/" + record.id.key(), 0700));
  IMASHIM_TRY_VOID(write_manifest(manifest_path(record.id), manifest));
  return write_file_atomic(record_path(record.id), record_to_json(record).dump(2) + "\n", 0600);
}

Result<void> LayerCache::forget(const LayerIdentity& id) {
  for (const auto& p : {record_path(id), manifest_path(id)})
    if (::unlink(p.c_str()) != 0 && errno != ENOENT) return fail_errno("remove `" + p + "`");
  return {};
}

Result<os::UniqueFd> LayerCache::lock(const LayerIdentity& id) {
  std::string dir = root_ + "/" + id.key();
  IMASHIM_TRY_VOID(mkdir_p(dir, 0700));
  std::string path = dir + "/lock";
  os::UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd) return fail_errno("open lock `" + path + "`");
  while (::flock(fd.get(), LOCK_EX) != 0)
    if (errno != EINTR) return fail_errno("lock `" + path + "`");
  return fd;
}

Result<LayerResult> label_layer(const std::string& dir, const LabelOptions& options, LayerCache& cache) {
  IMASHIM_TRY(LayerIdentity id, layer_identity(dir));
  std::optional<std::uint32_t> keyid;
  if (options.signer) keyid = options.signer->keyid();
  bool use_cache = options.mode == LabelMode::label && !options.force;
  if (use_cache) {
    IMASHIM_TRY(auto rec, cache.lookup(id, options.algo, keyid));
    if (rec) return cached_result(dir, id, *rec, cache);
  }
  LayerResult result;
  result.dir = dir;
  result.id = id;
  if (options.mode == LabelMode::check) {
    IMASHIM_TRY(result.report, label_tree(dir, options));
    auto ref = cache.manifest(id);
    if (ref) compare_with_manifest(result.report, *ref);
    return result;
  }
  IMASHIM_TRY(os::UniqueFd lock, cache.lock(id));
  if (use_cache) {  // someone else may have labelled it while we waited
    IMASHIM_TRY(auto rec, cache.lookup(id, options.algo, keyid));
    if (rec) return cached_result(dir, id, *rec, cache);
  }
  IMASHIM_TRY_VOID(cache.forget(id));
  IMASHIM_TRY(result.report, label_tree(dir, options));
  if (!result.report.complete()) return result;
  IMASHIM_TRY(LayerIdentity after, layer_identity(dir));
  if (!(after == id)) return result;  // the layer changed while we labelled it: claim nothing
  LayerRecord rec;
  rec.id = id;
  rec.path = dir;
  rec.algo = options.algo;
  rec.keyid = keyid;
  rec.files = result.report.files;
  rec.bytes = result.report.bytes;
  rec.manifest_digest = result.report.manifest.digest();
  rec.labelled_at = static_cast<std::int64_t>(std::time(nullptr));
  auto stored = cache.store(rec, result.report.manifest);
  if (!stored) return std::move(stored).with_context("layer cache");
  result.manifest_path = cache.manifest_path(id);
  return result;
}

}  // namespace imashim::label
