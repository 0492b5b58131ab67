// Labelling a tree with a bounded worker pool (labeller.hpp).
#include "imashim/label/labeller.hpp"

#include <fcntl.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>

#include <fmt/format.h>

#include "imashim/formats/ima_xattr.hpp"

namespace imashim::label {

namespace {

using Clock = std::chrono::steady_clock;
constexpr std::size_t kReadSize = 1 << 20;
constexpr std::size_t kMaxXattr = 8192;

struct FindingName {
  Finding f;
  std::string_view name;
};
constexpr FindingName kFindingNames[] = {
    {Finding::changed, "changed"},           {Finding::missing_label, "missing-label"},
    {Finding::wrong_algo, "wrong-algo"},     {Finding::bad_signature, "bad-signature"},
    {Finding::relabelled, "relabelled"},     {Finding::unlabelable, "unlabelable"},
    {Finding::skipped, "skipped"},           {Finding::added, "added"},
    {Finding::removed, "removed"},
};

// A bounded queue of opened files: the walk blocks when the workers fall behind, which
// bounds the number of open descriptors.
class FileQueue {
 public:
  explicit FileQueue(std::size_t cap) : cap_(cap) {}
  void push(std::pair<std::int64_t, WalkFile>&& f) {
    std::unique_lock lk(mu_);
    not_full_.wait(lk, [&] { return q_.size() < cap_; });
    q_.push_back(std::move(f));
    not_empty_.notify_one();
  }
  std::optional<std::pair<std::int64_t, WalkFile>> pop() {
    std::unique_lock lk(mu_);
    not_empty_.wait(lk, [&] { return !q_.empty() || closed_; });
    if (q_.empty()) return std::nullopt;
    auto f = std::move(q_.front());
    q_.pop_front();
    not_full_.notify_one();
    return f;
  }
  void close() {
    std::lock_guard lk(mu_);
    closed_ = true;
    not_empty_.notify_all();
  }

 private:
  std::size_t cap_;
  std::mutex mu_;
  std::condition_variable not_full_, not_empty_;
  std::deque<std::pair<std::int64_t, WalkFile>> q_;
  bool closed_ = false;
};

// Hashes a file with large sequential reads; holes of sparse files are hashed as the
// zeros they read as, without reading them.
Result<Bytes> hash_file(formats::Hasher& h, Bytes& buf, int fd, std::uint64_t size, std::atomic<std::uint64_t>& progress) {
  h.reset();
  if (size >= kReadSize) ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  off_t pos = 0;
  bool sparse_ok = size >= kReadSize;
  while (true) {
    off_t data_end = -1;
    if (sparse_ok) {
      off_t data = ::lseek(fd, pos, SEEK_DATA);
      if (data < 0 && errno == ENXIO) data = static_cast<off_t>(size);  // a hole up to the end
      if (data < 0) {
        sparse_ok = false;
      } else {
        for (off_t z = pos; z < data;) {  // the hole: zeros
          std::size_t n = static_cast<std::size_t>(std::min<off_t>(data - z, static_cast<off_t>(buf.size())));
          std::fill(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(n), 0);
          h.update(ByteView(buf.data(), n));
          z += static_cast<off_t>(n);
          progress += n;
        }
        pos = data;
        if (static_cast<std::uint64_t>(pos) >= size) break;
        data_end = ::lseek(fd, pos, SEEK_HOLE);
      }
    }
    ssize_t n = ::pread(fd, buf.data(), buf.size(), pos);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail_errno("read");
    if (n == 0) break;
    if (data_end > pos && pos + n > data_end) n = data_end - pos;
    h.update(ByteView(buf.data(), static_cast<std::size_t>(n)));
    pos += n;
    progress += static_cast<std::uint64_t>(n);
  }
  return h.finish();
}

Result<std::optional<Bytes>> read_label(int fd, const std::string& name) {
  Bytes v(kMaxXattr);
  ssize_t n = ::fgetxattr(fd, name.c_str(), v.data(), v.size());
  if (n < 0 && (errno == ENODATA)) return std::optional<Bytes>();
  if (n < 0 && errno == ENOTSUP) return std::optional<Bytes>();
  if (n < 0) return fail_errno("read " + name);
  v.resize(static_cast<std::size_t>(n));
  return std::optional<Bytes>(std::move(v));
}

std::string_view xattr_error_reason(int err) {
  switch (err) {
    case EROFS: return "read-only filesystem";
    case ENOTSUP: return "filesystem does not support security xattrs";
    case EPERM: return "not permitted (immutable or append-only file, or no CAP_SYS_ADMIN)";
    case EACCES: return "permission denied";
    case ENOSPC: return "no space for the xattr";
    case EDQUOT: return "xattr quota exceeded";
    default: return "";
  }
}

// What one worker found for one file.
struct Outcome {
  std::int64_t index = -1;
  Bytes digest;  // empty when the file could not be hashed
  std::optional<FileFinding> finding;
  enum class Kind : std::uint8_t { labelled, unchanged, verified, none } kind = Kind::none;
};

class Worker {
 public:
  Worker(const LabelOptions& o, std::atomic<std::uint64_t>& bytes_done) : o_(o), buf_(kReadSize), bytes_done_(bytes_done) {}

  Result<void> init() {
    IMASHIM_TRY(auto h, formats::Hasher::create(o_.algo));
    hasher_.emplace(std::move(h));
    return {};
  }

  Outcome process(WalkFile& f) {
    Outcome out;
    auto existing = read_label(f.fd.get(), o_.xattr_name);
    if (!existing) return unlabelable(f, existing.error().message());
    auto digest = hash_file(*hasher_, buf_, f.fd.get(), f.st.size, bytes_done_);
    if (!digest) return unlabelable(f, digest.error().message());
    out.digest = std::move(*digest);
    if (o_.mode == LabelMode::check) return check(f, std::move(out), *existing);
    if (*existing) {
      auto verdict = compare(**existing, out.digest);
      if (!verdict) {
        out.kind = Outcome::Kind::unchanged;
        return out;
      }
      if (!o_.force) {
        out.finding = FileFinding{f.path, verdict->first, verdict->second};
        return out;
      }
      out.finding = FileFinding{f.path, Finding::relabelled, verdict->second};
    }
    auto value = label_value(o_.algo, out.digest, o_.signer.get());
    if (!value) return unlabelable(f, value.error().message(), std::move(out.digest));
    if (::fsetxattr(f.fd.get(), o_.xattr_name.c_str(), value->data(), value->size(), 0) != 0) {
      int err = errno;
      std::string_view why = xattr_error_reason(err);
      return unlabelable(f, "set " + o_.xattr_name + ": " + std::string(why.empty() ? std::strerror(err) : why),
                         std::move(out.digest));
    }
    out.kind = Outcome::Kind::labelled;
    return out;
  }

 private:
  Outcome unlabelable(const WalkFile& f, std::string reason, Bytes digest = {}) {
    Outcome out;
    out.digest = std::move(digest);
    out.finding = FileFinding{f.path, Finding::unlabelable, std::move(reason)};
    return out;
  }

  Outcome check(const WalkFile& f, Outcome out, const std::optional<Bytes>& existing) {
    if (!existing) {
      out.finding = FileFinding{f.path, Finding::missing_label, "no " + o_.xattr_name};
      return out;
    }
    auto verdict = compare(*existing, out.digest);
    if (verdict)
      out.finding = FileFinding{f.path, verdict->first, verdict->second};
    else
      out.kind = Outcome::Kind::verified;
    return out;
  }

  // nullopt when `label` is right for `digest`; otherwise what is wrong with it.
  std::optional<std::pair<Finding, std::string>> compare(const Bytes& label, const Bytes& digest) const {
    auto want_name = formats::hash_algo_name(o_.algo);
    auto x = formats::ImaXattr::decode(label);
    if (!x) return std::pair{Finding::changed, "unreadable label: " + x.error().message()};
    if (x->sig) {
      if (x->sig->hash_algo != o_.algo)
        return std::pair{Finding::wrong_algo, fmt::format("signed with {}, expected {}",
                                                          formats::hash_algo_name(x->sig->hash_algo), want_name)};
      if (!o_.signer) return std::pair{Finding::bad_signature, "a signature; pass --sign KEY --cert CERT to verify it"};
      if (x->sig->keyid != o_.signer->keyid())
        return std::pair{Finding::bad_signature, fmt::format("signed by key {:08x}, expected {:08x}", x->sig->keyid,
                                                             o_.signer->keyid())};
      if (!o_.signer->verify(o_.algo, digest, x->sig->signature))
        return std::pair{Finding::changed, "signature does not match the content"};
      return std::nullopt;
    }
    if (!x->algo || x->digest.empty()) return std::pair{Finding::changed, "not a file digest label: " + x->describe()};
    if (*x->algo != o_.algo)
      return std::pair{Finding::wrong_algo,
                       fmt::format("labelled with {}, expected {}", formats::hash_algo_name(*x->algo), want_name)};
    if (x->digest != digest)
      return std::pair{Finding::changed, fmt::format("label {} content {}", to_hex(x->digest), to_hex(digest))};
    if (o_.signer) return std::pair{Finding::bad_signature, "a digest label, expected a signature"};
    // A right digest in another encoding (0x04 for sha1) is still the same label.
    return std::nullopt;
  }

  const LabelOptions& o_;
  Bytes buf_;
  std::atomic<std::uint64_t>& bytes_done_;
  std::optional<formats::Hasher> hasher_;
};

void count_outcome(LabelReport& r, const Outcome& o) {
  switch (o.kind) {
    case Outcome::Kind::labelled: r.labelled++; break;
    case Outcome::Kind::unchanged: r.unchanged++; break;
    case Outcome::Kind::verified: r.verified++; break;
    case Outcome::Kind::none: break;
  }
  if (!o.finding) return;
  switch (o.finding->finding) {
    case Finding::changed: r.changed++; break;
    case Finding::missing_label: r.missing++; break;
    case Finding::wrong_algo: r.wrong_algo++; break;
    case Finding::bad_signature: r.bad_signature++; break;
    case Finding::relabelled: r.relabelled++; r.labelled++; break;
    case Finding::unlabelable: r.failed++; break;
    case Finding::skipped: r.skipped++; break;
    case Finding::added: r.added++; break;
    case Finding::removed: r.removed++; break;
  }
}

// Runs the progress callback about ten times a second until stopped.
class ProgressTicker {
 public:
  ProgressTicker(const LabelOptions& o, const std::atomic<std::uint64_t>& files, const std::atomic<std::uint64_t>& bytes,
                 LabelProgress totals)
      : o_(o), files_(files), bytes_(bytes), totals_(totals) {
    if (o_.progress) thread_ = std::thread([this] { run(); });
  }
  ~ProgressTicker() { stop(); }
  void stop() {
    if (!thread_.joinable()) return;
    {
      std::lock_guard lk(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
    tick();
  }

 private:
  void run() {
    std::unique_lock lk(mu_);
    while (!cv_.wait_for(lk, std::chrono::milliseconds(100), [&] { return stop_; })) tick();
  }
  void tick() {
    LabelProgress p = totals_;
    p.files_done = files_.load();
    p.bytes_done = bytes_.load();
    p.seconds = std::chrono::duration<double>(Clock::now() - start_).count();
    o_.progress(p);
  }
  const LabelOptions& o_;
  const std::atomic<std::uint64_t>& files_;
  const std::atomic<std::uint64_t>& bytes_;
  LabelProgress totals_;
  Clock::time_point start_ = Clock::now();
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

LabelProgress pre_count(const std::string& root, const LabelOptions& o) {
  LabelProgress p;
  if (!o.count_first) return p;
  WalkOptions wo;
  wo.open_files = false;
  auto counts = walk_tree(root, WalkVisitor{[](WalkFile&&) {}, nullptr}, wo);
  if (counts) {
    p.files_total = counts->files;
    p.bytes_total = counts->bytes;
  }
  return p;
}

}  // namespace

std::string_view finding_name(Finding f) {
  for (const auto& n : kFindingNames)
    if (n.f == f) return n.name;
  return "unknown";
}

Result<Bytes> label_value(formats::HashAlgo algo, ByteView digest, const Signer* signer) {
  if (signer) return signer->sign_xattr(algo, digest);
  return formats::encode_ima_digest(algo, digest);
}

// Collects the walk's results: manifest skeletons by walk index, issues as findings.
struct Collector {
  std::vector<ManifestEntry> entries;  // by walk index
  std::vector<std::int64_t> link_of;   // by walk index
  std::vector<FileFinding> findings;

  std::int64_t add(const WalkFile& f, formats::HashAlgo algo) {
    ManifestEntry e;
    e.path = f.path;
    e.size = f.st.size;
    e.mode = f.st.mode;
    e.uid = f.st.uid;
    e.gid = f.st.gid;
    e.algo = algo;
    entries.push_back(std::move(e));
    link_of.push_back(f.link_of);
    return static_cast<std::int64_t>(entries.size() - 1);
  }
};

void merge(LabelReport& report, Collector& c, std::vector<Outcome>& outcomes) {
  for (auto& o : outcomes) {
    count_outcome(report, o);
    if (o.finding) c.findings.push_back(std::move(*o.finding));
    c.entries[static_cast<std::size_t>(o.index)].digest = std::move(o.digest);
  }
  for (std::size_t i = 0; i < c.entries.size(); i++) {
    if (c.link_of[i] >= 0) c.entries[i].digest = c.entries[static_cast<std::size_t>(c.link_of[i])].digest;
    if (!c.entries[i].digest.empty()) report.manifest.entries.push_back(std::move(c.entries[i]));
  }
  report.manifest.sort();
  std::sort(c.findings.begin(), c.findings.end(), [](const auto& a, const auto& b) { return a.path < b.path; });
  report.findings = std::move(c.findings);
}

Result<LabelReport> label_tree(const std::string& root, const LabelOptions& options) {
  if (!formats::evp_md(options.algo))
    return fail(fmt::format("hash algorithm {} is not available", formats::hash_algo_name(options.algo)));
  auto start = Clock::now();
  unsigned jobs = options.jobs ? options.jobs : std::max(1u, std::thread::hardware_concurrency());
  LabelReport report;
  report.root = root;

  Collector collected;
  std::vector<Outcome> outcomes;
  std::mutex mu;
  std::atomic<std::uint64_t> files_done{0}, bytes_done{0};
  FileQueue queue(jobs * 4 + 8);

  std::vector<std::unique_ptr<Worker>> workers;
  for (unsigned i = 0; i < jobs; i++) {
    workers.push_back(std::make_unique<Worker>(options, bytes_done));
    IMASHIM_TRY_VOID(workers.back()->init());
  }
  LabelProgress totals = pre_count(root, options);
  ProgressTicker ticker(options, files_done, bytes_done, totals);

  std::vector<std::thread> threads;
  for (auto& w : workers) {
    threads.emplace_back([&, wp = w.get()] {
      std::vector<Outcome> mine;
      while (auto item = queue.pop()) {
        Outcome o = wp->process(item->second);
        o.index = item->first;
        mine.push_back(std::move(o));
        files_done++;
      }
      std::lock_guard lk(mu);
      for (auto& o : mine) outcomes.push_back(std::move(o));
    });
  }
  WalkVisitor visitor;
  visitor.on_file = [&](WalkFile&& f) {
    std::int64_t index = collected.add(f, options.algo);
    if (f.link_of >= 0) {
      files_done++;
      return;
    }
    queue.push({index, std::move(f)});
  };
  visitor.on_issue = [&](WalkIssue&& i) {
    auto kind = i.kind == WalkIssue::Kind::skipped ? Finding::skipped : Finding::unlabelable;
    collected.findings.push_back(FileFinding{std::move(i.path), kind, std::move(i.reason)});
  };
  auto counts = walk_tree(root, visitor, options.walk);
  queue.close();
  for (auto& t : threads) t.join();
  ticker.stop();
  if (!counts) return std::move(counts).with_context("label");

  report.files = counts->files;
  report.bytes = counts->bytes;
  report.hardlinks = counts->hardlinks;
  report.dirs = counts->dirs;
  report.symlinks = counts->symlinks;
  report.skipped = counts->skipped;
  report.failed = counts->failed;
  merge(report, collected, outcomes);
  report.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return report;
}

}  // namespace imashim::label
