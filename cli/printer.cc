#include "cli/printer.h"

#include <algorithm>
#include <cstdio>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "kv/log.h"

namespace raftkv::cli {
namespace {

// Rows of cells under a header, each column as wide as its widest cell.
std::string AlignedTable(const std::vector<std::string>& header,
                         const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width(header.size());
  for (size_t c = 0; c < header.size(); ++c) {
    width[c] = header[c].size();
    for (const auto& row : rows) width[c] = std::max(width[c], row[c].size());
  }
  auto line = [&](const std::vector<std::string>& cells) {
    std::string out;
    for (size_t c = 0; c < cells.size(); ++c) {
      out += cells[c];
      if (c + 1 < cells.size())
        out += std::string(width[c] - cells[c].size() + 2, ' ');
    }
    return out + "\n";
  };
  std::string out = line(header);
  for (const auto& row : rows) out += line(row);
  return out;
}

}  // namespace

bool ValidUtf8(const std::string& s) {
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    size_t extra = 0;
    uint32_t code = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xe0) == 0xc0) {
      extra = 1;
      code = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      extra = 2;
      code = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
      extra = 3;
      code = c & 0x07;
    } else {
      return false;
    }
    for (size_t k = 1; k <= extra; ++k) {
      if (i + k >= s.size()) return false;
      const unsigned char next = static_cast<unsigned char>(s[i + k]);
      if ((next & 0xc0) != 0x80) return false;
      code = (code << 6) | (next & 0x3f);
    }
    // Overlong forms, surrogates and code points past U+10FFFF.
    if ((extra == 1 && code < 0x80) || (extra == 2 && code < 0x800) ||
        (extra == 3 && code < 0x10000) || code > 0x10ffff ||
        (code >= 0xd800 && code <= 0xdfff))
      return false;
    i += extra + 1;
  }
  return true;
}

std::string JsonString(const std::string& s) {
  return absl::StrCat("\"", kv::JsonEscaped(s), "\"");
}

std::string JsonField(const std::string& name, const std::string& bytes) {
  if (ValidUtf8(bytes))
    return absl::StrCat("\"", name, "\":", JsonString(bytes));
  return absl::StrCat("\"", name, "_base64\":\"", absl::Base64Escape(bytes),
                      "\"");
}

Record& Record::Add(Field field) {
  fields_.push_back(std::move(field));
  return *this;
}

Record& Record::Token(std::string name, std::string json, std::string cell) {
  Field f;
  f.name = std::move(name);
  f.json = std::move(json);
  f.cell = std::move(cell);
  return Add(std::move(f));
}

Record& Record::Bytes(std::string name, std::string value) {
  Field f;
  f.name = std::move(name);
  f.kind = Kind::kBytes;
  f.cell = std::move(value);
  return Add(std::move(f));
}

Record& Record::Number(std::string name, uint64_t value) {
  return Token(std::move(name), absl::StrCat(value), absl::StrCat(value));
}

Record& Record::Real(std::string name, double value, int decimals) {
  const std::string text = absl::StrFormat("%.*f", decimals, value);
  return Token(std::move(name), text, text);
}

Record& Record::Hex(std::string name, uint64_t value) {
  const std::string text = absl::StrCat(absl::Hex(value, absl::kZeroPad16));
  return Token(std::move(name), absl::StrCat("\"", text, "\""), text);
}

Record& Record::Bool(std::string name, bool value) {
  return Token(std::move(name), value ? "true" : "false",
               value ? "true" : "false");
}

Record& Record::Null(std::string name) {
  return Token(std::move(name), "null", "-");
}

Record& Record::Numbers(std::string name, const std::vector<uint64_t>& values) {
  return Token(std::move(name),
               absl::StrCat("[", absl::StrJoin(values, ","), "]"),
               absl::StrJoin(values, ","));
}

Record& Record::Object(std::string name, Record value) {
  Field f;
  f.name = std::move(name);
  f.kind = Kind::kObject;
  f.records.push_back(std::move(value));
  return Add(std::move(f));
}

Record& Record::List(std::string name, std::vector<Record> items) {
  Field f;
  f.name = std::move(name);
  f.kind = Kind::kList;
  f.records = std::move(items);
  return Add(std::move(f));
}

Record& Record::JsonOnly() {
  if (!fields_.empty()) fields_.back().json_only = true;
  return *this;
}

std::string Record::Json() const {
  std::string out = "{";
  for (const Field& f : fields_) {
    if (out.size() > 1) out += ",";
    switch (f.kind) {
      case Kind::kBytes:
        out += JsonField(f.name, f.cell);
        break;
      case Kind::kToken:
        absl::StrAppend(&out, "\"", f.name, "\":", f.json);
        break;
      case Kind::kObject:
        absl::StrAppend(&out, "\"", f.name, "\":", f.records[0].Json());
        break;
      case Kind::kList: {
        std::vector<std::string> items;
        for (const Record& r : f.records) items.push_back(r.Json());
        absl::StrAppend(&out, "\"", f.name, "\":[", absl::StrJoin(items, ","),
                        "]");
        break;
      }
    }
  }
  return out + "}";
}

std::string Record::Table() const {
  std::vector<std::string> header;
  std::vector<std::string> row;
  std::vector<std::string> sections;
  for (const Field& f : fields_) {
    if (f.json_only) continue;
    if (f.kind == Kind::kBytes || f.kind == Kind::kToken) {
      header.push_back(absl::AsciiStrToUpper(f.name));
      row.push_back(f.cell);
    } else if (f.kind == Kind::kObject) {
      sections.push_back(f.records[0].Table());
    } else if (!f.records.empty()) {
      // The columns of a list: every item's fields, in first-seen order.
      std::vector<std::string> names;
      for (const Record& r : f.records) {
        for (const Field& c : r.fields_) {
          if (c.json_only || c.kind == Kind::kObject || c.kind == Kind::kList)
            continue;
          if (std::find(names.begin(), names.end(), c.name) == names.end())
            names.push_back(c.name);
        }
      }
      std::vector<std::vector<std::string>> rows;
      for (const Record& r : f.records) {
        std::vector<std::string> cells(names.size(), "-");
        for (const Field& c : r.fields_) {
          auto at = std::find(names.begin(), names.end(), c.name);
          if (at != names.end() && !c.json_only)
            cells[at - names.begin()] = c.cell;
        }
        rows.push_back(std::move(cells));
      }
      for (std::string& name : names) name = absl::AsciiStrToUpper(name);
      sections.push_back(AlignedTable(names, rows));
    }
  }
  if (!header.empty())
    sections.insert(sections.begin(), AlignedTable(header, {row}));
  return absl::StrJoin(sections, "\n");
}

std::string Record::Vertical() const {
  size_t width = 0;
  for (const Field& f : fields_) width = std::max(width, f.name.size());
  std::string out;
  for (const Field& f : fields_) {
    if (f.json_only || f.kind == Kind::kObject || f.kind == Kind::kList)
      continue;
    absl::StrAppend(&out, f.name, std::string(width - f.name.size() + 2, ' '),
                    f.cell, "\n");
  }
  return out;
}

std::string Render(const Report& report, Output output) {
  switch (output) {
    case Output::kJson:
      return report.record.Json() + "\n";
    case Output::kTable:
      return report.record.Table();
    case Output::kSimple:
      return report.simple ? *report.simple : report.record.Table();
  }
  return "";
}

void Print(const Report& report, Output output) {
  const std::string text = Render(report, output);
  fwrite(text.data(), 1, text.size(), stdout);
}

}  // namespace raftkv::cli
