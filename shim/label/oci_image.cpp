// Labelling the layers of an OCI image layout (oci_image.hpp).
#include "imashim/label/oci_image.hpp"
#include "imashim/os/file.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "imashim/label/labeller.hpp"
#include "imashim/os/fd.hpp"

namespace imashim::label {

namespace {

using json = nlohmann::json;
constexpr const char* kRefName = "org.opencontainers.image.ref.name";
constexpr std::size_t kBlock = 1 << 20;

struct ArchiveReadFree {
  void operator()(archive* a) const { archive_read_free(a); }
};
struct ArchiveWriteFree {
  void operator()(archive* a) const { archive_write_free(a); }
};
using ReadArchive = std::unique_ptr<archive, ArchiveReadFree>;
using WriteArchive = std::unique_ptr<archive, ArchiveWriteFree>;

enum class Compression : std::uint8_t { none, gzip, zstd };

// Layer media types by their compression suffix (OCI "+gzip", Docker ".gzip").
Result<Compression> compression_of(const std::string& media_type) {
  auto ends = [&](std::string_view s) { return media_type.size() >= s.size() && media_type.ends_with(s); };
  if (ends("+gzip") || ends(".gzip")) return Compression::gzip;
  if (ends("+zstd") || ends(".zstd")) return Compression::zstd;
  if (ends(".tar") || ends("layer.v1.tar")) return Compression::none;
  return fail("layer media type `" + media_type + "` is not a tar layer this tool can rewrite");
}

Result<json> read_json(const std::string& path) {
  IMASHIM_TRY(std::string text, os::read_file(path));
  try {
    return json::parse(text);
  } catch (const std::exception& e) {
    return fail("`" + path + "`: not JSON: " + e.what());
  }
}

// "sha256:<hex>" → the blob's path; refuses anything that is not a sha256 digest
// (the digest comes from the image: it must not name a path of its own).
Result<std::string> blob_path(const std::string& layout, const std::string& digest) {
  if (digest.rfind("sha256:", 0) != 0 || digest.size() != 7 + 64 ||
      digest.find_first_not_of("0123456789abcdef", 7) != std::string::npos)
    return fail("digest `" + digest + "` is not sha256:<64 hex digits>");
  return layout + "/blobs/sha256/" + digest.substr(7);
}

// Writes a JSON blob; returns its descriptor fields.
Result<std::pair<std::string, std::uint64_t>> write_json_blob(const std::string& layout, const json& j) {
  std::string text = j.dump();
  IMASHIM_TRY(Bytes d, formats::hash_bytes(formats::HashAlgo::sha256, as_bytes(text)));
  std::string digest = "sha256:" + to_hex(d);
  IMASHIM_TRY_VOID(write_file_atomic(layout + "/blobs/sha256/" + to_hex(d), text));
  return std::pair{digest, static_cast<std::uint64_t>(text.size())};
}

// The compressed layer being written: to a temp file, hashed on the way.
struct BlobSink {
  int fd = -1;
  formats::Hasher* hasher = nullptr;
  std::uint64_t size = 0;
  static la_ssize_t write(archive* a, void* self, const void* buf, size_t len) {
    auto* s = static_cast<BlobSink*>(self);
    const auto* p = static_cast<const std::uint8_t*>(buf);
    std::size_t off = 0;
    while (off < len) {
      ssize_t n = ::write(s->fd, p + off, len - off);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        archive_set_error(a, errno, "write layer blob");
        return -1;
      }
      off += static_cast<std::size_t>(n);
    }
    s->hasher->update(ByteView(p, len));
    s->size += len;
    return static_cast<la_ssize_t>(len);
  }
};

std::string entry_path(const char* name) {
  std::string_view p = name ? name : "";
  while (p.starts_with("./")) p.remove_prefix(2);
  while (p.starts_with("/")) p.remove_prefix(1);
  while (p.ends_with("/")) p.remove_suffix(1);
  return "/" + std::string(p);
}

bool is_whiteout(const std::string& path) {
  auto slash = path.rfind('/');
  return path.compare(slash + 1, 4, ".wh.") == 0;
}

// Replaces the entry's security.ima (if any) by `value`, keeping its other xattrs.
void set_ima_xattr(archive_entry* e, const Bytes& value) {
  std::vector<std::pair<std::string, std::string>> keep;
  const char* name;
  const void* v;
  size_t size;
  archive_entry_xattr_reset(e);
  while (archive_entry_xattr_next(e, &name, &v, &size) == ARCHIVE_OK)
    if (std::string_view(name) != kImaXattr) keep.emplace_back(name, std::string(static_cast<const char*>(v), size));
  archive_entry_xattr_clear(e);
  for (const auto& [n, val] : keep) archive_entry_xattr_add_entry(e, n.c_str(), val.data(), val.size());
  archive_entry_xattr_add_entry(e, std::string(kImaXattr).c_str(), value.data(), value.size());
}

// Reads the entry's data into a buffer (regular files of image layers fit in memory;
// a file larger than the address space is an error, not a crash).
Result<Bytes> read_entry_data(archive* in, std::int64_t size) {
  if (size < 0) return fail("entry with a negative size");
  Bytes data;
  try {
    data.resize(static_cast<std::size_t>(size));
  } catch (const std::bad_alloc&) {
    return fail(fmt::format("entry of {} bytes does not fit in memory", size));
  }
  std::size_t off = 0;
  while (off < data.size()) {
    la_ssize_t n = archive_read_data(in, data.data() + off, data.size() - off);
    if (n < 0) return fail(std::string("read entry data: ") + archive_error_string(in));
    if (n == 0) return fail("entry data ends early (truncated layer)");
    off += static_cast<std::size_t>(n);
  }
  return data;
}

Result<void> add_filter(archive* out, Compression c) {
  int rc = ARCHIVE_OK;
  if (c == Compression::gzip) rc = archive_write_add_filter_gzip(out);
  if (c == Compression::zstd) rc = archive_write_add_filter_zstd(out);
  if (rc != ARCHIVE_OK) return fail(std::string("compression: ") + archive_error_string(out));
  return {};
}

// Copies one entry, labelling regular files; adds them to the layer's manifest.
Result<void> copy_entry(archive* in, archive* out, archive_entry* e, const ImageLabelOptions& o, ImageLayerResult& r) {
  std::string path = entry_path(archive_entry_pathname(e));
  bool regular = archive_entry_filetype(e) == AE_IFREG && archive_entry_hardlink(e) == nullptr;
  Bytes data;
  if (regular || archive_entry_size(e) > 0) {
    IMASHIM_TRY(data, read_entry_data(in, archive_entry_size(e)));
  }
  if (regular && !is_whiteout(path)) {
    IMASHIM_TRY(Bytes digest, formats::hash_bytes(o.algo, data));
    IMASHIM_TRY(Bytes value, label_value(o.algo, digest, o.signer.get()));
    set_ima_xattr(e, value);
    r.manifest.entries.push_back(ManifestEntry{path, data.size(), static_cast<std::uint32_t>(archive_entry_mode(e)),
                                               static_cast<std::uint32_t>(archive_entry_uid(e)),
                                               static_cast<std::uint32_t>(archive_entry_gid(e)), o.algo, digest});
    r.labelled++;
  }
  if (archive_write_header(out, e) != ARCHIVE_OK) return fail(std::string("write header: ") + archive_error_string(out));
  if (!data.empty() && archive_write_data(out, data.data(), data.size()) != static_cast<la_ssize_t>(data.size()))
    return fail(std::string("write data: ") + archive_error_string(out));
  r.entries++;
  return {};
}

// The diff_id: SHA-256 of the uncompressed tar, read back through the decompressor.
Result<std::string> diff_id_of(const std::string& path) {
  ReadArchive in(archive_read_new());
  archive_read_support_filter_all(in.get());
  archive_read_support_format_raw(in.get());
  if (archive_read_open_filename(in.get(), path.c_str(), kBlock) != ARCHIVE_OK)
    return fail(std::string("reopen layer: ") + archive_error_string(in.get()));
  archive_entry* e;
  if (archive_read_next_header(in.get(), &e) != ARCHIVE_OK) return fail("reopen layer: empty");
  IMASHIM_TRY(formats::Hasher h, formats::Hasher::create(formats::HashAlgo::sha256));
  Bytes buf(kBlock);
  for (;;) {
    la_ssize_t n = archive_read_data(in.get(), buf.data(), buf.size());
    if (n < 0) return fail(std::string("reopen layer: ") + archive_error_string(in.get()));
    if (n == 0) break;
    h.update(ByteView(buf.data(), static_cast<std::size_t>(n)));
  }
  return "sha256:" + to_hex(h.finish());
}

Result<ImageLayerResult> label_layer_blob(const std::string& layout, const json& desc, const ImageLabelOptions& o) {
  ImageLayerResult r;
  r.old_digest = desc.at("digest").get<std::string>();
  r.media_type = desc.at("mediaType").get<std::string>();
  IMASHIM_TRY(Compression comp, compression_of(r.media_type));
  IMASHIM_TRY(std::string src, blob_path(layout, r.old_digest));
  ReadArchive in(archive_read_new());
  archive_read_support_filter_all(in.get());
  archive_read_support_format_tar(in.get());
  if (archive_read_open_filename(in.get(), src.c_str(), kBlock) != ARCHIVE_OK)
    return fail("layer `" + src + "`: " + archive_error_string(in.get()));

  std::string tmp = fmt::format("{}/blobs/sha256/.imashim-layer.{}", layout, ::getpid());
  os::UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!fd) return fail_errno("create `" + tmp + "`");
  IMASHIM_TRY(formats::Hasher blob_hash, formats::Hasher::create(formats::HashAlgo::sha256));
  BlobSink sink{fd.get(), &blob_hash, 0};
  WriteArchive out(archive_write_new());
  archive_write_set_format_pax(out.get());
  // SCHILY.xattr records only (what Go's archive/tar, GNU tar and containerd read), and no
  // zero padding after the compressed stream (readers that check for trailing data refuse it).
  archive_write_set_format_option(out.get(), "pax", "xattrheader", "SCHILY");
  archive_write_set_bytes_in_last_block(out.get(), 1);
  auto result = [&]() -> Result<void> {
    IMASHIM_TRY_VOID(add_filter(out.get(), comp));
    if (archive_write_open(out.get(), &sink, nullptr, &BlobSink::write, nullptr) != ARCHIVE_OK)
      return fail(std::string("open output: ") + archive_error_string(out.get()));
    archive_entry* e;
    for (;;) {
      int rc = archive_read_next_header(in.get(), &e);
      if (rc == ARCHIVE_EOF) break;
      if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN) return fail(std::string("read: ") + archive_error_string(in.get()));
      auto copied = copy_entry(in.get(), out.get(), e, o, r);
      if (!copied) return std::move(copied).with_context("entry `" + entry_path(archive_entry_pathname(e)) + "`");
    }
    if (archive_write_close(out.get()) != ARCHIVE_OK) return fail(std::string("finish: ") + archive_error_string(out.get()));
    if (::fsync(fd.get()) != 0) return fail_errno("fsync");
    return {};
  }();
  if (!result) {
    ::unlink(tmp.c_str());
    return std::move(result).with_context("layer " + r.old_digest);
  }
  r.new_digest = "sha256:" + to_hex(blob_hash.finish());
  std::string dst = layout + "/blobs/sha256/" + r.new_digest.substr(7);
  if (::rename(tmp.c_str(), dst.c_str()) != 0) return fail_errno("rename `" + tmp + "`");
  IMASHIM_TRY(r.diff_id, diff_id_of(dst));
  r.manifest.sort();
  return r;
}

// The index entry for `tag` (or the only manifest).
Result<std::size_t> find_manifest(const json& index, const std::string& tag, const std::string& layout) {
  const json& list = index.at("manifests");
  std::vector<std::string> tags;
  for (std::size_t i = 0; i < list.size(); i++) {
    std::string name = list[i].value("annotations", json::object()).value(kRefName, "");
    if (!tag.empty() && name == tag) return i;
    tags.push_back(name.empty() ? "<untagged>" : name);
  }
  if (tag.empty() && list.size() == 1) return std::size_t{0};
  std::string all;
  for (const auto& t : tags) all += (all.empty() ? "" : ", ") + t;
  if (tag.empty()) return fail("`" + layout + "` holds several images (" + all + "): name one as LAYOUT:TAG");
  return fail("`" + layout + "` has no image tagged `" + tag + "` (tags: " + (all.empty() ? "none" : all) + ")");
}

Result<ImageLabelResult> label_image(const std::string& layout, const std::string& tag, const ImageLabelOptions& o) {
  ImageLabelResult res;
  res.ref = tag;
  if (!o.manifest_dir.empty() && ::mkdir(o.manifest_dir.c_str(), 0755) != 0 && errno != EEXIST)
    return fail_errno("create `" + o.manifest_dir + "`");
  IMASHIM_TRY(json layout_file, read_json(layout + "/oci-layout"));
  if (layout_file.value("imageLayoutVersion", "") != "1.0.0") return fail("`" + layout + "`: not an OCI image layout 1.0.0");
  IMASHIM_TRY(json index, read_json(layout + "/index.json"));
  IMASHIM_TRY(std::size_t at, find_manifest(index, tag, layout));
  json& desc = index["manifests"][at];
  res.old_manifest = desc.at("digest").get<std::string>();
  IMASHIM_TRY(std::string mpath, blob_path(layout, res.old_manifest));
  IMASHIM_TRY(json manifest, read_json(mpath));
  if (!manifest.contains("layers") || !manifest.contains("config"))
    return fail("manifest " + res.old_manifest + " is not an image manifest (an index of platforms?)");
  IMASHIM_TRY(std::string cpath, blob_path(layout, manifest["config"].at("digest").get<std::string>()));
  IMASHIM_TRY(json config, read_json(cpath));
  json& diff_ids = config["rootfs"]["diff_ids"];
  if (!diff_ids.is_array() || diff_ids.size() != manifest["layers"].size())
    return fail("config of " + res.old_manifest + ": rootfs.diff_ids does not match the layers");
  for (std::size_t i = 0; i < manifest["layers"].size(); i++) {
    json& layer = manifest["layers"][i];
    IMASHIM_TRY(ImageLayerResult lr, label_layer_blob(layout, layer, o));
    layer["digest"] = lr.new_digest;
    IMASHIM_TRY(std::string lpath, blob_path(layout, lr.new_digest));
    struct stat st {};
    if (::stat(lpath.c_str(), &st) != 0) return fail_errno("stat `" + lpath + "`");
    layer["size"] = static_cast<std::uint64_t>(st.st_size);
    diff_ids[i] = lr.diff_id;
    if (!o.manifest_dir.empty())
      IMASHIM_TRY_VOID(write_manifest(o.manifest_dir + "/" + lr.diff_id.substr(7) + ".manifest", lr.manifest));
    res.layers.push_back(std::move(lr));
  }
  IMASHIM_TRY(auto cdesc, write_json_blob(layout, config));
  manifest["config"]["digest"] = cdesc.first;
  manifest["config"]["size"] = cdesc.second;
  res.new_config = cdesc.first;
  manifest["annotations"]["org.imashim.label.algo"] = std::string(formats::hash_algo_name(o.algo));
  if (o.signer) manifest["annotations"]["org.imashim.label.keyid"] = fmt::format("{:08x}", o.signer->keyid());
  IMASHIM_TRY(auto mdesc, write_json_blob(layout, manifest));
  desc["digest"] = mdesc.first;
  desc["size"] = mdesc.second;
  res.new_manifest = mdesc.first;
  IMASHIM_TRY_VOID(write_file_atomic(layout + "/index.json", index.dump() + "\n"));
  return res;
}

}  // namespace

std::pair<std::string, std::string> split_layout_ref(std::string_view ref) {
  auto slash = ref.rfind('/');
  auto colon = ref.rfind(':');
  if (colon == std::string_view::npos || (slash != std::string_view::npos && colon < slash)) return {std::string(ref), ""};
  return {std::string(ref.substr(0, colon)), std::string(ref.substr(colon + 1))};
}

Result<ImageLabelResult> label_oci_image(const std::string& layout, const std::string& tag, const ImageLabelOptions& o) {
  try {
    auto r = label_image(layout, tag, o);
    if (!r) return std::move(r).with_context("image `" + layout + (tag.empty() ? "" : ":" + tag) + "`");
    return r;
  } catch (const json::exception& e) {
    return fail("image `" + layout + "`: malformed OCI JSON: " + e.what());
  }
}

}  // namespace imashim::label
