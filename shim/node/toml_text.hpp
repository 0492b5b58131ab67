// A TOML file kept as its text (containerd's config.toml, containers.conf):
// reads go through a real TOML parser, and an edit changes only the lines it
// must, so the operator's comments, order and layout survive. Every edit is
// parsed again before it is accepted: what comes out is valid TOML that says
// what was asked, or an error and the text unchanged.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "imashim/util/result.hpp"

namespace imashim::node {

// A table's key path: {"plugins", "io.containerd.grpc.v1.cri", "containerd"}.
using TomlPath = std::vector<std::string>;
// The values engine configs need: a string, an integer, an array of strings.
using TomlValue = std::variant<std::string, std::int64_t, std::vector<std::string>>;

class TomlText {
 public:
  // `name` names the text in errors ("/etc/containerd/config.toml:4:7: ...").
  static Result<TomlText> parse(std::string text, std::string name);

  const std::string& text() const { return text_; }
  // The document as JSON (tables → objects; dates and times as strings), for reading.
  const nlohmann::json& json() const { return json_; }
  // The value at `path` (tables, then a key), or nullptr.
  const nlohmann::json* find(const TomlPath& path) const;

  // Makes `table`.`key` equal `value`: replaces the value in place, or adds
  // the key to the table's own header block, or appends the table. Returns
  // whether the text changed. Refuses what it cannot edit safely (an inline
  // table, a key that holds a table) with an error naming path and file.
  Result<bool> set(const TomlPath& table, std::string_view key, const TomlValue& value);

 private:
  struct Doc;
  TomlText(std::string text, std::string name, std::shared_ptr<const Doc> doc);

  std::string text_;
  std::string name_;
  std::shared_ptr<const Doc> doc_;
  nlohmann::json json_;
};

// `a."b.c".d` as a header or dotted key: bare segments where TOML allows them.
std::string toml_key(const TomlPath& path);
// A value written the way TOML reads it back.
std::string toml_literal(const TomlValue& value);

}  // namespace imashim::node
