// MeasurementLogAppender and the file helpers of measurement_log.hpp.
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include "imashim/formats/measurement_log.hpp"
#include "imashim/os/file.hpp"

namespace imashim::formats {
namespace {

Result<void> write_all(int fd, const void* data, std::size_t size, const std::string& what) {
  const auto* p = static_cast<const std::uint8_t*>(data);
  while (size > 0) {
    ssize_t n = ::write(fd, p, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail_errno("write " + what);
    }
    p += n;
    size -= static_cast<std::size_t>(n);
  }
  return {};
}

Result<os::UniqueFd> open_append(const std::filesystem::path& path) {
  os::UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
  if (!fd) return fail_errno("open " + path.string());
  return fd;
}

Result<Bytes> read_fd(int fd, const std::string& what) {
  Bytes out;
  std::uint8_t buf[1 << 16];
  off_t off = 0;
  for (;;) {
    ssize_t n = ::pread(fd, buf, sizeof buf, off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail_errno("read " + what);
    }
    if (n == 0) break;
    out.insert(out.end(), buf, buf + n);
    off += n;
  }
  return out;
}

}  // namespace

Result<Bytes> read_whole_file(const std::filesystem::path& path) { return os::read_file_bytes(path); }

Result<void> write_file_atomic(const std::filesystem::path& path, std::string_view data) {
  std::filesystem::path tmp = path;
  tmp += fmt::format(".tmp.{}", ::getpid());
  os::UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!fd) return fail_errno("create " + tmp.string());
  auto w = write_all(fd.get(), data.data(), data.size(), tmp.string());
  if (w && ::fsync(fd.get()) != 0) w = fail_errno("fsync " + tmp.string());
  fd.reset();
  if (w && ::rename(tmp.c_str(), path.c_str()) != 0) w = fail_errno("rename to " + path.string());
  if (!w) ::unlink(tmp.c_str());
  return w;
}

MeasurementLogAppender::Options::Options() : banks{HashAlgo::sha1, HashAlgo::sha256} {}

Result<MeasurementLogAppender> MeasurementLogAppender::open(const std::filesystem::path& binary_path,
                                                            const std::filesystem::path& ascii_path) {
  return open(binary_path, ascii_path, Options());
}

Result<MeasurementLogAppender> MeasurementLogAppender::open(const std::filesystem::path& binary_path,
                                                            const std::filesystem::path& ascii_path,
                                                            Options opts) {
  MeasurementLogAppender a;
  opts.read.order = opts.order;
  a.opts_ = opts;
  IMASHIM_TRY(a.bin_, open_append(binary_path));
  if (::flock(a.bin_.get(), LOCK_EX | LOCK_NB) != 0)
    return fail_errno(binary_path.string() + " is in use by another writer");
  IMASHIM_TRY(a.banks_, make_pcr_banks(opts.banks));
  for (const auto& b : a.banks_) {
    IMASHIM_TRY(TemplateHasher h, TemplateHasher::create(b.algo()));
    a.hashers_.push_back(std::move(h));
  }
  IMASHIM_TRY(TemplateHasher sha1, TemplateHasher::create(HashAlgo::sha1));
  a.sha1_ = std::move(sha1);

  // Recovery: keep every complete entry, cut a torn tail, rebuild the ascii file.
  IMASHIM_TRY(Bytes log, read_fd(a.bin_.get(), binary_path.string()));
  LogReader r(log, opts.read);
  std::string ascii;
  for (;;) {
    auto e = r.next();
    if (!e) {
      if (!r.truncated()) return std::move(e).with_context(binary_path.string() + " is corrupt");
      break;
    }
    if (!*e) break;
    append_ascii_entry(ascii, **e);
    for (std::size_t i = 0; i < a.banks_.size(); ++i) {
      if ((*e)->is_violation())
        a.banks_[i].extend_violation((*e)->pcr);
      else
        (void)a.banks_[i].extend((*e)->pcr, a.hashers_[i].digest(**e));
    }
    ++a.entries_;
  }
  a.bin_size_ = r.offset();
  a.recovered_ = log.size() - r.offset();
  if (a.recovered_ > 0 && ::ftruncate(a.bin_.get(), static_cast<off_t>(a.bin_size_)) != 0)
    return fail_errno("truncate the torn tail of " + binary_path.string());

  IMASHIM_TRY(a.ascii_, open_append(ascii_path));
  IMASHIM_TRY(Bytes old_ascii, read_fd(a.ascii_.get(), ascii_path.string()));
  if (std::string_view(reinterpret_cast<const char*>(old_ascii.data()), old_ascii.size()) != ascii) {
    IMASHIM_TRY_VOID(write_file_atomic(ascii_path, ascii));
    IMASHIM_TRY(a.ascii_, open_append(ascii_path));
  }
  a.ascii_size_ = ascii.size();
  return a;
}

Result<MeasurementLogAppender::Appended> MeasurementLogAppender::append(const TemplatePtr& desc,
                                                                        const Measurement& m) {
  IMASHIM_TRY(LogEntry e, build_entry(desc, m));
  return append(e);
}

Result<MeasurementLogAppender::Appended> MeasurementLogAppender::append(const LogEntry& entry) {
  Bytes zero(kTemplateDigestSize, 0);
  IMASHIM_TRY(EntryView v, view_of(entry, zero, opts_.order));
  Appended out;
  out.index = entries_;
  out.offset = bin_size_;
  out.sha1 = entry.violation ? zero : sha1_->digest(v);
  v.template_digest = out.sha1;
  for (std::size_t i = 0; i < banks_.size(); ++i)
    out.digests.emplace_back(banks_[i].algo(), entry.violation ? Bytes(banks_[i].digest_size(), 0xff)
                                                               : hashers_[i].digest(v));
  Bytes bin = encode_binary_entry(v, opts_.order);
  std::string ascii = format_ascii_entry(v);

  auto rollback = [&](Error err) -> Unexpected {
    // Leave no partial entry behind: cut both files back to their previous ends.
    (void)!::ftruncate(bin_.get(), static_cast<off_t>(bin_size_));
    (void)!::ftruncate(ascii_.get(), static_cast<off_t>(ascii_size_));
    return Unexpected{std::move(err)};
  };
  if (auto w = write_all(bin_.get(), bin.data(), bin.size(), "binary measurement log"); !w)
    return rollback(std::move(w).error());
  if (auto w = write_all(ascii_.get(), ascii.data(), ascii.size(), "ascii measurement log"); !w)
    return rollback(std::move(w).error());
  if (opts_.fsync_each) {
    if (auto s = sync(); !s) return rollback(std::move(s).error());
  }
  bin_size_ += bin.size();
  ascii_size_ += ascii.size();
  for (std::size_t i = 0; i < banks_.size(); ++i) (void)banks_[i].extend(entry.pcr, out.digests[i].second);
  ++entries_;
  return out;
}

Result<void> MeasurementLogAppender::sync() {
  IMASHIM_TRY_VOID(sync_binary());
  return sync_ascii();
}

Result<void> MeasurementLogAppender::sync_binary() {
  if (::fdatasync(bin_.get()) != 0) return fail_errno("fdatasync binary measurement log");
  return {};
}

Result<void> MeasurementLogAppender::sync_ascii() {
  if (::fdatasync(ascii_.get()) != 0) return fail_errno("fdatasync ascii measurement log");
  return {};
}

Result<void> MeasurementLogAppender::write_pcrs_evmctl(const std::filesystem::path& path, HashAlgo bank) const {
  const PcrBank* b = find_bank(banks_, bank);
  if (!b) return fail(fmt::format("no {} bank in this log", hash_algo_name(bank)));
  return write_file_atomic(path, format_pcrs_evmctl(*b));
}

}  // namespace imashim::formats
