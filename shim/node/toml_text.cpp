#include "toml_text.hpp"

#include <algorithm>
#include <sstream>

#include <fmt/format.h>

// toml++ is used header-only, in this file alone, without exceptions: parse
// results carry the error with its line and column.
#define TOML_EXCEPTIONS 0
#define TOML_ENABLE_FORMATTERS 1
#include <toml++/toml.h>

namespace imashim::node {

struct TomlText::Doc {
  toml::table root;
};

namespace {

bool is_bare_key(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
}

std::string toml_string(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
          out += fmt::format("\\u{:04X}", static_cast<unsigned char>(c));
        else
          out += c;
    }
  }
  return out + "\"";
}

nlohmann::json json_of(const toml::node& node) {
  std::ostringstream out;
  out << toml::json_formatter(node, toml::format_flags::quote_dates_and_times);
  nlohmann::json j = nlohmann::json::parse(out.str(), nullptr, false);
  return j.is_discarded() ? nlohmann::json() : j;
}

nlohmann::json json_of(const TomlValue& v) {
  return std::visit([](const auto& x) { return nlohmann::json(x); }, v);
}

std::vector<std::string> split_lines(std::string_view text) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t nl = text.find('\n', start);
    if (nl == std::string_view::npos) nl = text.size();
    lines.emplace_back(text.substr(start, nl - start));
    start = nl + 1;
  }
  return lines;
}

std::string join_lines(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  return out;
}

// toml++ counts columns in code points from 1; the byte offset of `column` in `line`.
std::size_t byte_offset(std::string_view line, std::size_t column) {
  std::size_t cp = 1;
  for (std::size_t i = 0; i < line.size(); ++i) {
    if ((static_cast<unsigned char>(line[i]) & 0xC0) == 0x80) continue;  // inside a code point
    if (cp == column) return i;
    ++cp;
  }
  return line.size();
}

std::string leading_space(std::string_view line) {
  return std::string(line.substr(0, line.find_first_not_of(" \t") == std::string_view::npos
                                        ? line.size()
                                        : line.find_first_not_of(" \t")));
}

// The key path a `[header]` line declares, or nothing if the line is not one.
std::optional<TomlPath> header_path(std::string_view line) {
  std::string_view t = line.substr(std::min(line.size(), line.find_first_not_of(" \t")));
  if (!t.starts_with('[') || t.starts_with("[[")) return std::nullopt;
  auto parsed = toml::parse(t, std::string_view("header"));
  if (!parsed) return std::nullopt;
  TomlPath path;
  const toml::table* tbl = &parsed.table();
  while (tbl->size() == 1) {
    auto it = tbl->begin();
    if (!it->second.is_table()) return std::nullopt;
    path.emplace_back(it->first.str());
    tbl = it->second.as_table();
  }
  if (!tbl->empty()) return std::nullopt;
  return path;
}

// toml++ 3.3.0 (Debian 12) reaches __builtin_unreachable() when it asks
// whether some non-ASCII code points are whitespace (upstream issues #190 and
// #295): between tokens, and after a line-ending backslash in a multi-line
// basic string. TOML allows non-ASCII only inside strings and comments, so
// such text is refused here, with its line, before the parser sees it.
Result<void> refuse_parser_traps(std::string_view text, const std::string& name) {
  enum class In { code, comment, basic, literal, ml_basic, ml_literal } in = In::code;
  std::size_t line = 1;
  auto at = [&](std::size_t i, std::string_view s) { return text.substr(i, s.size()) == s; };
  auto blank = [](char ch) { return ch == ' ' || ch == '\t' || ch == '\r'; };
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '\n') ++line;
    switch (in) {
      case In::code:
        if (static_cast<unsigned char>(c) >= 0x80)
          return fail(fmt::format("{}:{}: a non-ASCII character outside a string or comment", name, line));
        if (c == '#') in = In::comment;
        else if (at(i, R"(""")")) in = In::ml_basic, i += 2;
        else if (at(i, "'''")) in = In::ml_literal, i += 2;
        else if (c == '"') in = In::basic;
        else if (c == '\'') in = In::literal;
        break;
      case In::comment:
        if (c == '\n') in = In::code;
        break;
      case In::basic:
        if (c == '\\' && i + 1 < text.size() && text[i + 1] != '\n') ++i;  // an escaped byte closes nothing
        else if (c == '"' || c == '\n') in = In::code;
        break;
      case In::literal:
        if (c == '\'' || c == '\n') in = In::code;
        break;
      case In::ml_basic:
        if (c == '\\') {
          std::size_t j = i + 1;
          while (j < text.size() && blank(text[j])) ++j;
          if (j < text.size() && text[j] == '\n') {  // a line-ending backslash: the parser trims what follows
            while (j < text.size() && (blank(text[j]) || text[j] == '\n')) line += text[j++] == '\n';
            if (j < text.size() && static_cast<unsigned char>(text[j]) >= 0x80)
              return fail(fmt::format("{}:{}: a non-ASCII character right after a line-ending backslash "
                                      "(the TOML parser cannot read it)",
                                      name, line));
            i = j - 1;
          } else if (i + 1 < text.size() && text[i + 1] != '\n') {
            ++i;
          }
        } else if (at(i, R"(""")")) {
          while (i + 3 < text.size() && text[i + 3] == '"') ++i;  // up to two quotes may end the content
          in = In::code, i += 2;
        }
        break;
      case In::ml_literal:
        if (at(i, "'''")) {
          while (i + 3 < text.size() && text[i + 3] == '\'') ++i;
          in = In::code, i += 2;
        }
        break;
    }
  }
  return {};
}

std::string path_text(const TomlPath& table, std::string_view key) {
  TomlPath p = table;
  p.emplace_back(key);
  return toml_key(p);
}

}  // namespace

std::string toml_key(const TomlPath& path) {
  std::string out;
  for (const auto& seg : path) {
    if (!out.empty()) out += '.';
    out += is_bare_key(seg) ? seg : toml_string(seg);
  }
  return out;
}

std::string toml_literal(const TomlValue& value) {
  if (const auto* s = std::get_if<std::string>(&value)) return toml_string(*s);
  if (const auto* i = std::get_if<std::int64_t>(&value)) return std::to_string(*i);
  std::string out = "[";
  for (const auto& s : std::get<std::vector<std::string>>(value)) out += (out.size() > 1 ? ", " : "") + toml_string(s);
  return out + "]";
}

TomlText::TomlText(std::string text, std::string name, std::shared_ptr<const Doc> doc)
    : text_(std::move(text)), name_(std::move(name)), doc_(std::move(doc)), json_(json_of(doc_->root)) {}

Result<TomlText> TomlText::parse(std::string text, std::string name) {
  IMASHIM_TRY_VOID(refuse_parser_traps(text, name));
  auto parsed = toml::parse(std::string_view(text), std::string_view(name));
  if (!parsed) {
    const auto& e = parsed.error();
    return fail(fmt::format("{}:{}:{}: {}", name, e.source().begin.line, e.source().begin.column, e.description()));
  }
  auto doc = std::make_shared<Doc>(Doc{std::move(parsed.table())});
  return TomlText(std::move(text), std::move(name), std::move(doc));
}

const nlohmann::json* TomlText::find(const TomlPath& path) const {
  const nlohmann::json* cur = &json_;
  for (const auto& seg : path) {
    if (!cur->is_object()) return nullptr;
    auto it = cur->find(seg);
    if (it == cur->end()) return nullptr;
    cur = &*it;
  }
  return cur;
}

Result<bool> TomlText::set(const TomlPath& table, std::string_view key, const TomlValue& value) {
  const std::string where = path_text(table, key);
  const toml::table* tbl = &doc_->root;
  for (std::size_t i = 0; i < table.size() && tbl; ++i) {
    const toml::node* n = tbl->get(table[i]);
    if (n && !n->is_table())
      return fail(fmt::format("{}: {} is not a table", name_, toml_key(TomlPath(table.begin(), table.begin() + i + 1))));
    tbl = n ? n->as_table() : nullptr;
  }
  if (tbl && tbl->is_inline())
    return fail(fmt::format("{}: {} is an inline table; set {} there by hand", name_, toml_key(table), where));

  std::vector<std::string> lines = split_lines(text_);
  const std::string literal = toml_literal(value);
  const toml::node* current = tbl ? tbl->get(key) : nullptr;
  if (current) {
    if (json_of(*current) == json_of(value)) return false;
    if (current->is_table() || (current->is_array_of_tables() && !current->as_array()->empty() &&
                                !current->as_array()->front().as_table()->is_inline()))
      return fail(fmt::format("{}: {} is a table, not a value", name_, where));
    const auto& src = current->source();
    if (src.begin.line < 1 || src.end.line > lines.size())
      return fail(fmt::format("{}: cannot find {} in the text", name_, where));
    std::string& first = lines[src.begin.line - 1];
    std::string tail = lines[src.end.line - 1].substr(byte_offset(lines[src.end.line - 1], src.end.column));
    first = first.substr(0, byte_offset(first, src.begin.column)) + literal + tail;
    lines.erase(lines.begin() + static_cast<std::ptrdiff_t>(src.begin.line),
                lines.begin() + static_cast<std::ptrdiff_t>(src.end.line));
  } else {
    // Where the table's own keys are: under its [header], or at the top for the root table.
    std::optional<std::size_t> header;  // 1-based line of the table's header; 0 for the root
    if (table.empty()) header = 0;
    else if (tbl && tbl->source().begin.line >= 1 && tbl->source().begin.line <= lines.size() &&
             header_path(lines[tbl->source().begin.line - 1]) == table)
      header = tbl->source().begin.line;
    if (header) {
      std::size_t after = *header;
      std::string indent = *header ? leading_space(lines[*header - 1]) + "  " : "";
      if (tbl) {
        for (const auto& [k, v] : *tbl) {
          bool own_value = !(v.is_table() && !v.as_table()->is_inline()) &&
                           !(v.is_array_of_tables() && !v.as_array()->empty() &&
                             !v.as_array()->front().as_table()->is_inline());
          if (!own_value || v.source().begin.line <= *header) continue;
          if (v.source().end.line > after) {
            after = v.source().end.line;
            indent = leading_space(lines[v.source().begin.line - 1]);
          }
        }
      }
      std::string line = indent + toml_key({std::string(key)}) + " = " + literal;
      lines.insert(lines.begin() + static_cast<std::ptrdiff_t>(after), line);
    } else {
      if (!lines.empty() && !lines.back().empty()) lines.emplace_back();
      lines.push_back("[" + toml_key(table) + "]");
      lines.push_back("  " + toml_key({std::string(key)}) + " = " + literal);
    }
  }

  auto edited = TomlText::parse(join_lines(lines), name_);
  if (!edited)
    return fail(fmt::format("{}: setting {} here would not be valid TOML ({}); set it by hand", name_, where,
                            edited.error().message()));
  TomlPath full = table;
  full.emplace_back(key);
  const nlohmann::json* got = edited->find(full);
  if (!got || *got != json_of(value))
    return fail(fmt::format("{}: could not set {}; set it by hand", name_, where));
  *this = std::move(*edited);
  return true;
}

}  // namespace imashim::node
