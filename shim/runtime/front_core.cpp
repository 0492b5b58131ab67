// The front end's decision (front_core.hpp): no allocation, no library call.
#include "imashim/runtime/front_core.hpp"

#include <cerrno>
#include <initializer_list>

namespace imashim::runtime::front {
namespace {

// A strict JSON reader (RFC 8259, as nlohmann::json accepts it) over a buffer.
// Strings come back raw, between their quotes; `escaped` says whether they
// hold a backslash escape, which the callers treat as "not understood".
class Json {
 public:
  explicit Json(std::string_view text) : s_(text) {
    if (s_.starts_with("\xEF\xBB\xBF")) i_ = 3;  // a UTF-8 byte order mark, skipped as nlohmann does
  }

  struct Str {
    std::string_view raw;
    bool escaped = false;
  };

  void ws() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r')) ++i_;
  }
  bool eat(char c) {
    ws();
    if (i_ < s_.size() && s_[i_] == c) {
      ++i_;
      return true;
    }
    return false;
  }
  bool peek(char c) {
    ws();
    return i_ < s_.size() && s_[i_] == c;
  }
  bool at_end() {
    ws();
    return i_ == s_.size();
  }

  bool string(Str& out) {
    if (!eat('"')) return false;
    std::size_t start = i_;
    out.escaped = false;
    while (i_ < s_.size()) {
      auto c = static_cast<unsigned char>(s_[i_]);
      if (c == '"') {
        out.raw = s_.substr(start, i_ - start);
        ++i_;
        return true;
      }
      if (c < 0x20) return false;
      if (c == '\\') {
        out.escaped = true;
        if (!escape()) return false;
      } else if (c < 0x80) {
        ++i_;
      } else if (!utf8()) {
        return false;
      }
    }
    return false;
  }

  // Any value, checked and skipped.
  bool value() {
    ws();
    if (i_ >= s_.size()) return false;
    char c = s_[i_];
    if (c == '"') {
      Str ignored;
      return string(ignored);
    }
    if (c == '{') return object([this](const Str&) { return value(); });
    if (c == '[') return array();
    if (c == 't') return literal("true");
    if (c == 'f') return literal("false");
    if (c == 'n') return literal("null");
    return number();
  }

  // An object; `member(key)` reads each member's value.
  template <typename F>
  bool object(F member) {
    if (!eat('{')) return false;
    if (++depth_ > kMaxDepth) return false;
    if (!eat('}')) {
      do {
        Str key;
        if (!string(key) || !eat(':') || !member(key)) return false;
      } while (eat(','));
      if (!eat('}')) return false;
    }
    --depth_;
    return true;
  }

  bool literal(std::string_view word) {
    ws();
    if (s_.substr(i_, word.size()) != word) return false;
    i_ += word.size();
    return true;
  }

 private:
  static constexpr int kMaxDepth = 256;

  bool array() {
    if (!eat('[')) return false;
    if (++depth_ > kMaxDepth) return false;
    if (!eat(']')) {
      do
        if (!value()) return false;
      while (eat(','));
      if (!eat(']')) return false;
    }
    --depth_;
    return true;
  }

  bool digits() {
    std::size_t start = i_;
    while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') ++i_;
    return i_ > start;
  }
  // A number; one whose magnitude would overflow a double is refused, as
  // nlohmann::json refuses it ("number overflow").
  bool number() {
    if (i_ < s_.size() && s_[i_] == '-') ++i_;
    long magnitude = 0;  // digits before the point, plus the exponent
    if (i_ < s_.size() && s_[i_] == '0') {
      ++i_;
    } else {
      std::size_t start = i_;
      if (!digits()) return false;
      magnitude = static_cast<long>(i_ - start);
    }
    if (i_ < s_.size() && s_[i_] == '.') {
      ++i_;
      if (!digits()) return false;
    }
    if (i_ < s_.size() && (s_[i_] == 'e' || s_[i_] == 'E')) {
      ++i_;
      bool negative = false;
      if (i_ < s_.size() && (s_[i_] == '+' || s_[i_] == '-')) negative = s_[i_++] == '-';
      std::size_t start = i_;
      long exponent = 0;
      while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') {
        if (exponent < 100000) exponent = exponent * 10 + (s_[i_] - '0');
        ++i_;
      }
      if (i_ == start) return false;
      if (!negative) magnitude += exponent;
    }
    return magnitude <= 300;
  }

  int hex4() {
    if (i_ + 4 > s_.size()) return -1;
    int v = 0;
    for (int k = 0; k < 4; ++k) {
      char c = s_[i_++];
      int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
      if (d < 0) return -1;
      v = v * 16 + d;
    }
    return v;
  }
  // After a backslash: one escape; a \u high surrogate must be followed by a \u low one.
  bool escape() {
    ++i_;
    if (i_ >= s_.size()) return false;
    char c = s_[i_++];
    if (c == '"' || c == '\\' || c == '/' || c == 'b' || c == 'f' || c == 'n' || c == 'r' || c == 't') return true;
    if (c != 'u') return false;
    int u = hex4();
    if (u < 0 || (u >= 0xDC00 && u <= 0xDFFF)) return false;
    if (u < 0xD800 || u > 0xDBFF) return true;
    if (s_.substr(i_, 2) != "\\u") return false;
    i_ += 2;
    int low = hex4();
    return low >= 0xDC00 && low <= 0xDFFF;
  }
  // One multi-byte UTF-8 sequence: no overlong form, no surrogate, at most U+10FFFF.
  bool utf8() {
    auto b = [&](std::size_t k) { return static_cast<unsigned char>(s_[i_ + k]); };
    auto cont = [&](std::size_t k) { return i_ + k < s_.size() && (b(k) & 0xC0) == 0x80; };
    unsigned char c = b(0);
    if (c >= 0xC2 && c <= 0xDF && cont(1)) {
      i_ += 2;
      return true;
    }
    if (c >= 0xE0 && c <= 0xEF && cont(1) && cont(2)) {
      if ((c == 0xE0 && b(1) < 0xA0) || (c == 0xED && b(1) > 0x9F)) return false;
      i_ += 3;
      return true;
    }
    if (c >= 0xF0 && c <= 0xF4 && cont(1) && cont(2) && cont(3)) {
      if ((c == 0xF0 && b(1) < 0x90) || (c == 0xF4 && b(1) > 0x8F)) return false;
      i_ += 4;
      return true;
    }
    return false;
  }

  std::string_view s_;
  std::size_t i_ = 0;
  int depth_ = 0;
};

bool one_of(std::string_view v, std::initializer_list<std::string_view> names) {
  for (auto n : names)
    if (v == n) return true;
  return false;
}

// A string value without escapes (the only kind the front end reads).
bool plain_string(Json& j, std::string_view& out) {
  Json::Str s;
  if (!j.string(s) || s.escaped) return false;
  out = s.raw;
  return true;
}

// The keys the full implementation's parser knows (config.cpp), each checked
// as strictly as it checks it, or more.
bool node_member(Json& j, std::string_view key, NodeView& out) {
  std::string_view v;
  if (key == "mode") {
    if (!plain_string(j, v) || !one_of(v, {"off", "measure", "log", "enforce"})) return false;
    out.mode_off = v == "off";
    return true;
  }
  if (key == "backend") {
    if (!plain_string(j, v) || !one_of(v, {"auto", "ns-mount", "ns-user", "host", "fanotify", "off"})) return false;
    out.backend_off = v == "off";
    return true;
  }
  if (key == "hash_algo") return plain_string(j, v) && one_of(v, {"sha1", "sha224", "sha256", "sha384", "sha512"});
  if (key == "profile") return plain_string(j, v) && !v.empty();
  if (key == "runc_path" || key == "state_root" || key == "log_root" || key == "layer_cache_root") {
    if (!plain_string(j, v) || !v.starts_with('/') || v.size() >= Path::kCap) return false;
    if (key == "runc_path") out.runc_path = v;
    if (key == "state_root") out.state_root = v;
    return true;
  }
  if (key == "tpm") return j.literal("null");  // a TPM block: ima-runc-full reads it
  return false;
}

// runc as find_real_runc (runc.cpp) finds it: the configured path, else the
// first executable `runc` in PATH that is not ima-runc itself.
bool find_runc(const Inputs& in, const NodeView& node, const Os& os, Path& out) {
  unsigned long self_dev[2] = {0, 0}, self_ino[2] = {0, 0};
  bool have_self[2] = {false, false};
  std::string_view selves[2] = {in.self_exe, in.front_env};
  for (int k = 0; k < 2; ++k) {
    Path p;
    bool reg, exe;
    if (!selves[k].empty() && p.set(selves[k])) have_self[k] = os.stat(p.c_str(), &reg, &exe, &self_dev[k], &self_ino[k]) == 0;
  }
  auto usable = [&](const Path& p) {
    bool reg = false, exe = false;
    unsigned long dev = 0, ino = 0;
    if (os.stat(p.c_str(), &reg, &exe, &dev, &ino) != 0 || !reg || !exe) return false;
    for (int k = 0; k < 2; ++k)
      if (have_self[k] && dev == self_dev[k] && ino == self_ino[k]) return false;
    return true;
  };
  if (!node.runc_path.empty()) return out.set(node.runc_path) && usable(out);
  std::string_view rest = in.path_set ? in.path_env : "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  for (;;) {
    auto colon = rest.find(':');
    std::string_view dir = rest.substr(0, colon);
    if (out.set(dir.empty() ? "." : dir, "/runc") && usable(out)) return true;
    if (colon == std::string_view::npos) return false;
    rest.remove_prefix(colon + 1);
  }
}

}  // namespace

bool Path::set(std::string_view a, std::string_view b, std::string_view c) {
  size = 0;
  for (auto part : {a, b, c}) {
    if (size + part.size() >= kCap) return false;
    for (char ch : part) {
      if (ch == '\0') return false;
      text[size++] = ch;
    }
  }
  text[size] = '\0';
  return true;
}

bool read_node_config(std::string_view text, NodeView& out) {
  Json j(text);
  if (!j.peek('{')) return false;
  bool ok = j.object([&](const Json::Str& key) { return !key.escaped && node_member(j, key.raw, out); });
  return ok && j.at_end();
}

bool annotations_keep_off(std::string_view config_json) {
  Json j(config_json);
  if (!j.peek('{')) return false;
  bool ok = j.object([&](const Json::Str& key) {
    if (key.escaped) return false;
    if (key.raw != "annotations") return j.value();
    if (!j.peek('{')) return false;  // not an object: reported by ima-runc-full
    return j.object([&](const Json::Str& name) {
      Json::Str text;  // a string, as read_annotations wants it
      if (name.escaped || !j.string(text)) return false;
      // As container_settings reads imashim's annotations: mode off keeps the
      // container off; a profile must not be empty; a policy's lines are
      // checked there. Other keys of ours (org.imashim.enable, the hook's)
      // do not change the mode.
      if (name.raw == "org.imashim.mode") return !text.escaped && text.raw == "off";
      if (name.raw == "org.imashim.profile") return !text.escaped && !text.raw.empty();
      return name.raw != "org.imashim.policy";
    });
  });
  return ok && j.at_end();
}

CommandView scan_command(int argc, const char* const* argv) {
  CommandView out;
  // One flag at argv[i] (a flag token): advances past a value it takes; false when that value is missing.
  // Records the values of the flags we look at: --bundle after the command, --log and --log-format before it.
  auto take_flag = [&](int& i, std::span<const FlagSpec> specs, bool global) {
    std::string_view tok = argv[i];
    tok.remove_prefix(tok.starts_with("--") ? 2 : 1);
    auto eq = tok.find('=');
    std::string_view name = tok.substr(0, eq);
    const FlagSpec* spec = find_flag(specs, name);
    std::string_view value;
    if (eq != std::string_view::npos) {
      value = tok.substr(eq + 1);
    } else if (spec && spec->takes_value) {
      if (i + 1 >= argc) return false;
      value = argv[++i];
    } else {
      value = "true";
    }
    if (spec && !global && spec->canonical() == "bundle") out.bundle = value;
    if (spec && global && spec->canonical() == "log") out.log = value;
    if (spec && global && spec->canonical() == "log-format") out.log_format = value;
    return true;
  };
  int i = 1;
  for (; i < argc && is_flag_token(argv[i]); ++i)
    if (!take_flag(i, runc_model::kGlobal, true)) return out;
  out.ok = true;
  if (i >= argc || std::string_view(argv[i]) == "--") return out;
  const CommandSpec* spec = find_command(argv[i]);
  std::span<const FlagSpec> specs = spec ? spec->flags : std::span<const FlagSpec>();
  out.role = spec ? spec->role : CommandRole::pass_through;
  bool flags_done = false;
  for (++i; i < argc; ++i) {
    std::string_view tok = argv[i];
    if (!flags_done && tok == "--") {
      flags_done = true;
    } else if (!flags_done && is_flag_token(tok)) {
      if (!take_flag(i, specs, false)) {
        out.ok = false;
        return out;
      }
    } else if (!out.has_id) {
      out.has_id = true;
      out.id = tok;
    }
  }
  return out;
}

void decide(const Inputs& in, const Os& os, Decision& out) {
  out.to = Decision::To::full;
  out.start_runc = false;
  out.command = scan_command(in.argc, in.argv);
  const CommandView& cmd = out.command;
  if (!cmd.ok) return;
  // The node config, as load_node_config reads it.
  NodeView node;
  Path config;
  if (!config.set(in.config_env.empty() ? "/etc/imashim/config.json" : in.config_env)) return;
  long n = os.read_file(config.c_str(), in.file_buf, in.file_cap);
  if (n >= 0) {
    if (!read_node_config({in.file_buf, static_cast<std::size_t>(n)}, node)) return;
  } else if (!(n == -ENOENT && in.config_env.empty())) {
    return;
  }
  // Views into file_buf: copied out before the buffer is read again.
  Path state_root, runc_path;
  if (!state_root.set(node.state_root) || !runc_path.set(node.runc_path)) return;
  node.runc_path = runc_path.view();
  auto to_runc = [&] {
    if (find_runc(in, node, os, out.runc)) out.to = Decision::To::runc;
  };
  // To the full implementation, with runc started ahead where the command is
  // one the full implementation runs as it stands (create and delete; run
  // becomes a create of its own).
  auto to_full_starting_runc = [&] {
    out.start_runc = cmd.role != CommandRole::run && !in.listen_pid_set && find_runc(in, node, os, out.runc);
  };
  switch (cmd.role) {
    case CommandRole::pass_through:
      return to_runc();
    case CommandRole::create:
    case CommandRole::run: {
      if (!cmd.has_id || cmd.id.empty() || node.backend_off) return to_runc();
      if (!is_valid_container_id(cmd.id)) return;
      if (!node.mode_off) return to_full_starting_runc();
      Path bundle_config;
      if (!bundle_config.set(cmd.bundle.empty() ? "." : cmd.bundle, "/config.json")) return;
      long m = os.read_file(bundle_config.c_str(), in.file_buf, in.file_cap);
      if (m < 0) return;
      if (!annotations_keep_off({in.file_buf, static_cast<std::size_t>(m)})) return to_full_starting_runc();
      return to_runc();
    }
    case CommandRole::remove: {
      if (!cmd.has_id || !is_valid_container_id(cmd.id)) return;
      Path state;
      bool reg, exe;
      unsigned long dev, ino;
      if (!state.set(state_root.view(), "/", cmd.id)) return;
      int r = os.stat(state.c_str(), &reg, &exe, &dev, &ino);
      if (r == 0) return to_full_starting_runc();
      if (r == -ENOENT) return to_runc();
      return;
    }
  }
}

}  // namespace imashim::runtime::front
