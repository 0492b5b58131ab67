#include "imashim/runtime/lifecycle.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <ctime>
#include <fstream>
#include <future>
#include <sstream>

#include <fmt/format.h>

#include "anchoring.hpp"
#include "context.hpp"

#include "imashim/os/fd.hpp"
#include "imashim/runtime/runc_cli.hpp"
#include "imashim/tpm/anchor.hpp"

namespace imashim::runtime {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string now_rfc3339() {
  std::time_t t = std::time(nullptr);
  struct tm tm {};
  ::gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// Whether a file must survive a crash of the node: the container's record in
// its log dir does; its live state does not (it lives in state_root, /run,
// like runc's own state, which runc does not sync either).
enum class Durable { no, yes };

// Writes `text` to the temp file beside `path` (fsynced if durable); returns its path.
Result<fs::path> write_temp(const fs::path& path, std::string_view text, mode_t perm, Durable durable) {
  auto tmp = path;
  tmp += ".tmp";
  os::UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, perm));
  if (!fd) return fail_errno(fmt::format("create {}", tmp.string()));
  std::size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::write(fd.get(), text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail_errno(fmt::format("write {}", tmp.string()));
    done += static_cast<std::size_t>(n);
  }
  if (durable == Durable::yes && ::fsync(fd.get()) != 0) return fail_errno(fmt::format("fsync {}", tmp.string()));
  return tmp;
}

Result<void> rename_into_place(const fs::path& tmp, const fs::path& path) {
  if (::rename(tmp.c_str(), path.c_str()) != 0) return fail_errno(fmt::format("rename {}", path.string()));
  return {};
}

// Writes `text` to `path` atomically (temp file + rename; fsync first if durable).
Result<void> write_atomic(const fs::path& path, std::string_view text, mode_t perm, Durable durable) {
  IMASHIM_TRY(auto tmp, write_temp(path, text, perm, durable));
  return rename_into_place(tmp, path);
}

json request_to_json(const backends::AttachRequest& r) {
  json manifests = json::array();
  for (const auto& m : r.manifests) manifests.push_back(m.string());
  return {{"container_id", r.container_id},  {"init_pid", r.init_pid},
          {"mode", backends::mode_name(r.mode)}, {"hash_algo", formats::hash_algo_name(r.hash_algo)},
          {"template", r.template_name},     {"log_dir", r.log_dir.string()},
          {"state_dir", r.state_dir.string()}, {"manifests", manifests}};
}

Result<backends::AttachRequest> request_from_json(const json& j) {
  if (!j.is_object()) return fail("state: \"request\" is not an object");
  backends::AttachRequest r;
  r.container_id = j.value("container_id", std::string());
  r.init_pid = j.value("init_pid", -1);
  auto mode = backends::mode_from_name(j.value("mode", std::string()));
  auto algo = formats::hash_algo_from_name(j.value("hash_algo", std::string()));
  if (!mode || !algo) return fail("state: bad mode or hash_algo in \"request\"");
  r.mode = *mode;
  r.hash_algo = *algo;
  r.template_name = j.value("template", std::string("ima-ng"));
  r.log_dir = j.value("log_dir", std::string());
  r.state_dir = j.value("state_dir", std::string());
  for (const auto& m : j.value("manifests", json::array())) r.manifests.emplace_back(m.get<std::string>());
  return r;
}

Result<std::string> read_text(const fs::path& p) {
  std::ifstream in(p);
  if (!in) return fail_errno(p.string());
  std::stringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

// A log dir left by an earlier container with the same id is kept, renamed.
void set_aside_old_log(const fs::path& dir) {
  std::error_code ec;
  if (!fs::exists(dir, ec)) return;
  auto stamp = std::chrono::duration_cast<std::chrono::nanoseconds>(
                   std::chrono::system_clock::now().time_since_epoch())
                   .count();
  fs::rename(dir, fs::path(dir.string() + fmt::format(".{}", stamp)), ec);
}


json layers_to_json(const Layers& l) {
  json lower = json::array();
  for (const auto& d : l.lower) lower.push_back(d.string());
  return {{"overlay", l.overlay}, {"lower", lower}, {"upper", l.upper.string()}};
}

Layers layers_from_json(const json& j, const fs::path& rootfs) {
  Layers l;
  l.rootfs = rootfs;
  if (!j.is_object()) return l;
  l.overlay = j.value("overlay", false);
  for (const auto& d : j.value("lower", json::array())) l.lower.emplace_back(d.get<std::string>());
  l.upper = j.value("upper", std::string());
  return l;
}

// The node's TPM anchoring (tpm/anchor), if the node config has a tpm block.
std::optional<tpm::AnchorConfig> anchor_config(const NodeConfig& node) {
  if (!node.tpm) return std::nullopt;
  auto on_failure = node.tpm->on_failure == TpmOnFailure::require ? tpm::OnFailure::require : tpm::OnFailure::prefer;
  return tpm::make_anchor_config(node.tpm->tcti, node.tpm->pcr, on_failure, node.log_root);
}

// Detaches the backend, then takes the final anchor of the container's log. A
// failure with on_failure=require keeps the state, so that a repeated delete
// retries it.
Result<void> detach_and_anchor(const NodeConfig& node, const fs::path& dir, const ContainerState& s,
                               backends::Backend& backend) {
  IMASHIM_TRY_VOID(in_context(backend.detach(s.attachment, s.request), "detach"));
  if (auto ac = anchor_config(node)) {
    stop_periodic_anchoring(dir);
    auto anchored = tpm::anchor_container_log(*ac, s.id, s.request.log_dir, tpm::AnchorEvent::delete_);
    if (!anchored) return std::move(anchored).with_context("tpm anchor");
  }
  return {};
}

}  // namespace

json ContainerState::to_json() const {
  return {{"id", id},
          {"layers", layers_to_json(layers)},
          {"bundle", bundle.string()},
          {"rootfs", rootfs.string()},
          {"pid", pid},
          {"mode", backends::mode_name(mode)},
          {"attachment", attachment.to_json()},
          {"request", request_to_json(request)},
          {"created", created},
          {"notes", notes}};
}

Result<ContainerState> ContainerState::from_json(const json& j) {
  if (!j.is_object()) return fail("state: not a JSON object");
  ContainerState s;
  s.id = j.value("id", std::string());
  s.bundle = j.value("bundle", std::string());
  s.rootfs = j.value("rootfs", std::string());
  s.layers = layers_from_json(j.value("layers", json::object()), s.rootfs);
  s.pid = j.value("pid", -1);
  auto mode = backends::mode_from_name(j.value("mode", std::string()));
  if (!mode) return fail("state: bad \"mode\"");
  s.mode = *mode;
  IMASHIM_TRY(s.attachment, backends::Attachment::from_json(j.value("attachment", json::object())));
  IMASHIM_TRY(s.request, request_from_json(j.value("request", json::object())));
  s.created = j.value("created", std::string());
  s.notes = j.value("notes", std::vector<std::string>{});
  return s;
}

fs::path state_dir(const NodeConfig& node, std::string_view id) { return node.state_root / std::string(id); }
fs::path log_dir(const NodeConfig& node, std::string_view id) { return node.log_root / std::string(id); }

Result<ContainerState> read_state(const NodeConfig& node, std::string_view id) {
  auto path = state_dir(node, id) / "state.json";
  IMASHIM_TRY(auto text, read_text(path));
  auto j = json::parse(text, nullptr, false);
  if (j.is_discarded()) return fail(fmt::format("{}: not valid JSON", path.string()));
  auto s = ContainerState::from_json(j);
  if (!s) return std::move(s).with_context(path.string());
  return s;
}

Result<std::optional<Prepared>> prepare(const NodeConfig& node, std::string id, const fs::path& bundle_dir,
                                        const Pipeline& pipeline) {
  IMASHIM_TRY(auto p, begin_prepare(node, std::move(id), bundle_dir, pipeline));
  if (p) IMASHIM_TRY_VOID(finish_prepare(*p, pipeline));
  return p;
}

Result<std::optional<Prepared>> begin_prepare(const NodeConfig& node, std::string id, const fs::path& bundle_dir,
                                              const Pipeline& pipeline) {
  if (node.backend == BackendChoice::off) return std::optional<Prepared>{};
  IMASHIM_TRY_VOID(validate_container_id(id));
  Prepared p;
  p.node = node;
  p.id = std::move(id);
  IMASHIM_TRY(p.bundle, load_bundle(bundle_dir));
  IMASHIM_TRY(p.settings, container_settings(node, p.bundle.annotations));
  if (p.settings.mode == backends::Mode::off) return std::optional<Prepared>{};
  IMASHIM_TRY(p.layers, find_layers(p.bundle.rootfs));
  // The backend first: a node that cannot attach anything fails before any work.
  IMASHIM_TRY(p.backend, in_context(pipeline.backend(node, backend_kind(node.backend)), "backend"));
  return std::optional<Prepared>(std::move(p));
}

Result<void> finish_prepare(Prepared& p, const Pipeline& pipeline) {
  LabelRequest label_request{p.node, p.bundle, p.layers, p.settings.mode};
  IMASHIM_TRY(p.labels, in_context(pipeline.label(label_request), "label layers"));
  PolicyRequest policy_request{p.node, p.bundle, p.layers, p.settings, p.labels};
  IMASHIM_TRY(p.policy, in_context(pipeline.policy(policy_request), "policy"));
  return {};
}

namespace {

// What the backend is told of the container before it has an init: its id,
// mode, hash and dirs (attach adds the init, the policy and the manifests).
backends::AttachRequest request_before_init(const Prepared& p) {
  backends::AttachRequest r;
  r.container_id = p.id;
  r.mode = p.settings.mode;
  r.hash_algo = p.node.hash_algo;
  r.log_dir = log_dir(p.node, p.id);
  r.state_dir = state_dir(p.node, p.id);
  return r;
}

}  // namespace

void prestart(Prepared& p) { p.backend->prestart(request_before_init(p)); }

Result<ContainerState> attach(Prepared& p, pid_t init_pid) {
  ContainerState s;
  s.id = p.id;
  s.bundle = p.bundle.dir;
  s.rootfs = p.bundle.rootfs;
  s.layers = p.layers;
  s.pid = init_pid;
  s.mode = p.settings.mode;
  s.created = now_rfc3339();
  s.notes = p.settings.notes;
  auto& r = s.request;
  r = request_before_init(p);
  r.init_pid = init_pid;
  r.policy_text = p.policy;
  r.manifests = p.labels.manifests;

  std::error_code ec;
  fs::remove_all(r.state_dir, ec);  // stale: runc just created this id, so no live container owns it
  fs::create_directories(p.node.state_root, ec);
  if (::mkdir(r.state_dir.c_str(), 0700) != 0) return fail_errno(fmt::format("create {}", r.state_dir.string()));
  set_aside_old_log(r.log_dir);
  fs::create_directories(r.log_dir, ec);
  if (ec) {
    fs::remove_all(r.state_dir, ec);
    return fail(fmt::format("create {}: {}", r.log_dir.string(), ec.message()));
  }
  auto undo = [&](Error e) {
    std::error_code ignore;
    fs::remove_all(r.state_dir, ignore);
    fs::remove_all(r.log_dir, ignore);
    return fail(std::move(e));
  };
  // The fanotify monitor fsyncs the policy itself once it is ready, while
  // create returns (docs/runtime.md); the other backends have no process to.
  Durable policy_durable = p.backend->kind() == backends::Kind::fanotify ? Durable::no : Durable::yes;
  if (auto w = write_atomic(r.log_dir / "policy", p.policy, 0644, policy_durable); !w)
    return undo(std::move(w).error());
  // With on_failure=require a TPM that does not answer stops the container here.
  // The start anchor also separates this container from an earlier one with its id.
  if (auto ac = anchor_config(p.node))
    if (auto c = tpm::anchor_at_start(*ac, p.id, r.log_dir); !c) {
      auto e = std::move(c).error();
      e.context("tpm");
      return undo(std::move(e));
    }
  auto attached = p.backend->attach(r);
  if (!attached) {
    auto e = std::move(attached).error();
    e.context(fmt::format("attach {} backend", backends::kind_name(p.backend->kind())));
    return undo(std::move(e));
  }
  s.attachment = std::move(*attached);
  if (auto w = write_atomic(r.state_dir / "state.json", s.to_json().dump(2) + "\n", 0600, Durable::no); !w) {
    (void)p.backend->detach(s.attachment, r);
    return undo(std::move(w).error());
  }
  start_periodic_anchoring(p.node, p.id, r.log_dir, r.state_dir, init_pid);
  return s;
}

namespace {

std::string record_text(const ContainerState& s) {
  json record = s.to_json();
  record["deleted"] = now_rfc3339();
  return record.dump(2) + "\n";
}

}  // namespace

Result<fs::path> stage_record(const NodeConfig& node, std::string_view id) {
  IMASHIM_TRY_VOID(validate_container_id(id));
  IMASHIM_TRY(auto s, read_state(node, id));
  return write_temp(s.request.log_dir / "container.json", record_text(s), 0644, Durable::yes);
}

Result<void> finalize(const NodeConfig& node, std::string_view id, const Pipeline& pipeline,
                      std::optional<fs::path> staged) {
  auto drop_staged = [&] {
    if (staged) ::unlink(staged->c_str());
  };
  if (auto v = validate_container_id(id); !v) {
    drop_staged();
    return v;
  }
  auto dir = state_dir(node, id);
  std::error_code ec;
  if (!fs::exists(dir / "state.json", ec)) {
    drop_staged();
    fs::remove_all(dir, ec);  // a partly written state dir holds nothing to detach
    return {};
  }
  auto state = read_state(node, id);
  if (!state) drop_staged();
  IMASHIM_TRY(auto s, std::move(state));
  auto chosen = pipeline.backend(node, s.attachment.kind);
  if (!chosen) drop_staged();
  IMASHIM_TRY(auto backend, in_context(std::move(chosen), "backend"));
  auto policy = read_text(s.request.log_dir / "policy");
  if (policy) s.request.policy_text = *policy;
  // The record is written and synced to a temp file before (stage_record,
  // while runc deletes the container) or while the backend detaches (the
  // fanotify monitor finishes and syncs its log meanwhile); it becomes
  // container.json only once the log is final.
  auto record_path = s.request.log_dir / "container.json";
  std::future<Result<fs::path>> writing;
  if (!staged)
    writing = std::async(std::launch::async, [&record_path, text = record_text(s)] {
      return write_temp(record_path, text, 0644, Durable::yes);
    });
  auto detached = detach_and_anchor(node, dir, s, *backend);
  Result<fs::path> tmp = staged ? Result<fs::path>(*staged) : writing.get();
  if (!detached) {
    if (tmp) ::unlink(tmp->c_str());
    return detached;
  }
  IMASHIM_TRY_VOID(tmp);
  IMASHIM_TRY_VOID(rename_into_place(*tmp, record_path));
  fs::remove_all(dir, ec);
  if (ec) return fail(fmt::format("remove {}: {}", dir.string(), ec.message()));
  return {};
}

}  // namespace imashim::runtime
