// The one printer of kvnode's client commands. A command describes its
// outcome as data — a Record: named fields in a fixed order whose values are
// bytes, numbers, booleans, null, number lists, nested records or lists of
// records — and Print renders it in the form the user chose:
//  - json: one JSON object on one line with the field names as given (they
//    are stable: scripts depend on them); bytes that are not valid UTF-8 come
//    as NAME_base64 (as etcd does), so the output is always valid JSON.
//  - table: the top record's scalar fields as a one-row table, then each list
//    of records as a table of its own; columns are the field names upper-cased
//    in first-seen order, aligned to the widest cell, a missing cell is "-".
//  - simple: the command's own short form (Report::simple) when it has one
//    (`get` prints the bare value, `put` prints OK), else the table.
//
// Thread safety: values; Print writes to stdout from the calling thread.
#ifndef RAFTKV_CLI_PRINTER_H_
#define RAFTKV_CLI_PRINTER_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace raftkv::cli {

enum class Output { kSimple, kTable, kJson };

class Record {
 public:
  Record& Bytes(std::string name, std::string value);
  Record& Number(std::string name, uint64_t value);
  Record& Real(std::string name, double value, int decimals);
  // 16 hex digits, a JSON string (cluster ids, digests, checksums).
  Record& Hex(std::string name, uint64_t value);
  Record& Bool(std::string name, bool value);
  Record& Null(std::string name);
  Record& Numbers(std::string name, const std::vector<uint64_t>& values);
  Record& Object(std::string name, Record value);
  Record& List(std::string name, std::vector<Record> items);
  // Marks the field added last as JSON-only: tables leave it out.
  Record& JsonOnly();

  std::string Json() const;
  // The table form described above, each line ending in '\n'.
  std::string Table() const;
  // "name value" lines, names padded to one column (scalars only).
  std::string Vertical() const;

 private:
  enum class Kind { kBytes, kToken, kObject, kList };
  struct Field {
    std::string name;
    Kind kind = Kind::kToken;
    std::string json;  // kToken: the JSON token
    std::string cell;  // kBytes: the bytes; kToken: the table cell
    bool json_only = false;
    std::vector<Record> records;  // kObject: one; kList: any number
  };
  Record& Token(std::string name, std::string json, std::string cell);
  Record& Add(Field field);

  std::vector<Field> fields_;
};

// What a command prints on success.
struct Report {
  Record record;
  std::optional<std::string> simple;  // the simple form; unset: the table
};

std::string Render(const Report& report, Output output);
void Print(const Report& report, Output output);

// A JSON string literal with the escapes JSON needs.
std::string JsonString(const std::string& s);
// "name":"text" for valid UTF-8, else "name_base64":"..."
std::string JsonField(const std::string& name, const std::string& bytes);
bool ValidUtf8(const std::string& s);

}  // namespace raftkv::cli

#endif  // RAFTKV_CLI_PRINTER_H_
