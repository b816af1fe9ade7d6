#include "env/workload.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <unordered_set>

#include "common/error.h"

namespace qosroute {
namespace {

using json = nlohmann::json;

// Largest token count accepted from a file: keeps rounding to int safe and catches garbage.
constexpr double kMaxTokenField = 1e9;

// Where a record came from, so that every error names the file and the line or record.
struct Location {
  const std::string& path;
  bool json_lines;
  size_t number;  // 1-based line (JSON lines) or 0-based index into the array

  std::string Describe() const {
    return json_lines ? fmt::format("workload file '{}' line {}", path, number)
                      : fmt::format("workload file '{}' record index {}", path, number);
  }
};

[[noreturn]] void Fail(const Location& where, const std::string& what) {
  throw UserError(fmt::format("{}: {}.", where.Describe(), what));
}

// An optional field: nullptr when absent or null (null reads as "not given").
const json* Optional(const json& object, const char* key) {
  const auto it = object.find(key);
  if (it == object.end() || it->is_null()) return nullptr;
  return &*it;
}

const json& Required(const Location& where, const json& object, const char* key,
                     const std::string& field) {
  const json* value = Optional(object, key);
  if (value == nullptr) Fail(where, fmt::format("field '{}' is missing", field));
  return *value;
}

double AsNumber(const Location& where, const json& value, const std::string& field) {
  if (!value.is_number()) {
    Fail(where, fmt::format("field '{}' must be a number, got {}", field, value.type_name()));
  }
  return value.get<double>();
}

const std::string& AsString(const Location& where, const json& value, const std::string& field) {
  if (!value.is_string()) {
    Fail(where, fmt::format("field '{}' must be a string, got {}", field, value.type_name()));
  }
  return value.get_ref<const std::string&>();
}

// A token count field: a non-negative number, rounded, at least 1.
int AsTokenCount(const Location& where, const json& value, const std::string& field) {
  const double x = AsNumber(where, value, field);
  if (!(x >= 0.0 && x <= kMaxTokenField)) {
    Fail(where, fmt::format("field '{}' must be a token count >= 0, got {}", field, value.dump()));
  }
  return std::max(1, static_cast<int>(std::lround(x)));
}

CandidateRecord ParseCandidate(const Location& where, const json& c, const std::string& prefix,
                               int max_output_tokens) {
  if (!c.is_object()) {
    Fail(where, fmt::format("field '{}' must be an object, got {}", prefix, c.type_name()));
  }
  CandidateRecord out;
  out.model = AsString(where, Required(where, c, "model", prefix + ".model"), prefix + ".model");
  if (out.model.empty()) Fail(where, fmt::format("field '{}.model' is empty", prefix));

  // An explicit count wins; otherwise the text is approximated (no tokenizer here).
  if (const json* tokens = Optional(c, "output_tokens")) {
    out.output_tokens = AsTokenCount(where, *tokens, prefix + ".output_tokens");
  } else {
    const std::string field = prefix + ".text";
    out.output_tokens =
        ApproximateTokens(AsString(where, Required(where, c, "text", field), field));
  }
  out.output_tokens = std::clamp(out.output_tokens, 1, max_output_tokens);

  const std::string scores_field = prefix + ".scores";
  const json& scores = Required(where, c, "scores", scores_field);
  if (!scores.is_object()) {
    Fail(where,
         fmt::format("field '{}' must be an object, got {}", scores_field, scores.type_name()));
  }
  const std::string bert_field = scores_field + ".bertscore";
  out.score = AsNumber(where, Required(where, scores, "bertscore", bert_field), bert_field);
  if (!(out.score >= 0.0 && out.score <= 1.0)) {
    Fail(where, fmt::format("field '{}' must be in [0, 1], got {}", bert_field, out.score));
  }

  // A predictor's outputs are estimates: clip them into range rather than reject them.
  if (const json* p = Optional(c, "pred_score")) {
    const double s = AsNumber(where, *p, prefix + ".pred_score");
    if (!std::isfinite(s)) Fail(where, fmt::format("field '{}.pred_score' is not finite", prefix));
    out.pred_score = std::clamp(s, 0.0, 1.0);
  }
  if (const json* p = Optional(c, "pred_output_tokens")) {
    out.pred_output_tokens =
        std::clamp(AsTokenCount(where, *p, prefix + ".pred_output_tokens"), 1, max_output_tokens);
  }
  return out;
}

WorkloadRecord ParseRecord(const Location& where, const json& j, int max_output_tokens) {
  if (!j.is_object())
    Fail(where, fmt::format("a record must be a JSON object, got {}", j.type_name()));
  WorkloadRecord record;
  if (const json* id = Optional(j, "id")) {
    if (id->is_string()) {
      record.id = id->get<std::string>();
    } else if (id->is_number_integer()) {
      record.id = id->dump();
    } else {
      Fail(where, fmt::format("field 'id' must be a string, got {}", id->type_name()));
    }
  } else {
    record.id = fmt::format("{}-{}", where.json_lines ? "line" : "record", where.number);
  }

  if (const json* tokens = Optional(j, "prompt_tokens")) {
    record.prompt_tokens = AsTokenCount(where, *tokens, "prompt_tokens");
  } else {
    // Prompt = instruction + " " + input (ref); mix-instruct always has both, input may be "".
    const std::string& instruction =
        AsString(where, Required(where, j, "instruction", "instruction"), "instruction");
    const json* input = Optional(j, "input");
    const std::string empty;
    const std::string& input_text = input ? AsString(where, *input, "input") : empty;
    record.prompt_tokens = ApproximateTokens(instruction + " " + input_text);
  }

  const json& candidates = Required(where, j, "candidates", "candidates");
  if (!candidates.is_array()) {
    Fail(where, fmt::format("field 'candidates' must be an array, got {}", candidates.type_name()));
  }
  if (candidates.empty()) Fail(where, "field 'candidates' is empty: a record needs at least one");
  std::unordered_set<std::string> seen;
  for (size_t i = 0; i < candidates.size(); ++i) {
    const std::string prefix = fmt::format("candidates[{}]", i);
    CandidateRecord c = ParseCandidate(where, candidates[i], prefix, max_output_tokens);
    if (!seen.insert(c.model).second) {
      Fail(where,
           fmt::format("field '{}.model' repeats model '{}' within the record", prefix, c.model));
    }
    record.candidates.push_back(std::move(c));
  }
  return record;
}

// Drops fields qosroute never reads while parsing, so a full mix-instruct array (reference
// outputs and eight unused metrics per candidate) costs far less memory as a DOM.
bool DropUnusedKeys(int /*depth*/, json::parse_event_t event, json& parsed) {
  if (event != json::parse_event_t::key) return true;
  static const std::unordered_set<std::string> kUnused = {
      "output", "decoding_method", "logprobs",  "bleu",   "rouge1",
      "rouge2", "rougeL",          "rougeLsum", "bleurt", "bartscore"};
  return kUnused.count(parsed.get<std::string>()) == 0;
}

// nlohmann's message without its "[json.exception.parse_error.101] " prefix (a number too
// large for a double is reported as out_of_range, so all parser exceptions come here).
std::string ParseErrorText(const json::exception& e) {
  std::string text = e.what();
  const size_t close = text.find("] ");
  if (!text.empty() && text[0] == '[' && close != std::string::npos) text.erase(0, close + 2);
  if (!text.empty() && text.back() == '.') text.pop_back();
  return text;
}

// The first non-whitespace byte (after a UTF-8 byte-order mark), or EOF; the stream is left
// positioned on it.
int FirstSignificantChar(std::istream& in) {
  if (in.peek() == 0xEF) {
    char bom[3];
    in.read(bom, 3);
    if (!(in.gcount() == 3 && static_cast<unsigned char>(bom[1]) == 0xBB &&
          static_cast<unsigned char>(bom[2]) == 0xBF)) {
      in.clear();
      in.seekg(0);
      return in.peek();
    }
  }
  while (in.peek() != std::char_traits<char>::eof() && std::isspace(in.peek())) in.get();
  return in.peek();
}

bool IsBlank(const std::string& line) {
  return std::all_of(line.begin(), line.end(),
                     [](unsigned char ch) { return std::isspace(ch) != 0; });
}

void LoadArray(std::istream& in, const std::string& path, int max_output_tokens, Workload& out) {
  json doc;
  try {
    doc = json::parse(in, DropUnusedKeys);
  } catch (const json::exception& e) {
    throw UserError(
        fmt::format("workload file '{}' is not valid JSON: {}.", path, ParseErrorText(e)));
  }
  if (doc.empty()) throw UserError(fmt::format("workload file '{}' holds no records.", path));
  out.records.reserve(doc.size());
  for (size_t i = 0; i < doc.size(); ++i) {
    out.records.push_back(ParseRecord(Location{path, false, i}, doc[i], max_output_tokens));
  }
}

void LoadLines(std::istream& in, const std::string& path, int max_output_tokens, Workload& out) {
  // Start over: format detection consumed the byte-order mark and leading blank lines.
  in.clear();
  in.seekg(0);
  std::string line;
  size_t line_number = 0;
  while (std::getline(in, line)) {
    ++line_number;
    if (line_number == 1 && line.rfind("\xEF\xBB\xBF", 0) == 0) line.erase(0, 3);
    if (IsBlank(line)) continue;
    const Location where{path, true, line_number};
    json doc;
    try {
      doc = json::parse(line, DropUnusedKeys);
    } catch (const json::exception& e) {
      Fail(where, fmt::format("not valid JSON ({}); JSON lines need one whole record per line",
                              ParseErrorText(e)));
    }
    out.records.push_back(ParseRecord(where, doc, max_output_tokens));
  }
  if (in.bad()) throw UserError(fmt::format("cannot read workload file '{}'.", path));
  if (out.records.empty())
    throw UserError(fmt::format("workload file '{}' holds no records.", path));
}

}  // namespace

const CandidateRecord* WorkloadRecord::Find(const std::string& model) const {
  for (const auto& c : candidates) {
    if (c.model == model) return &c;
  }
  return nullptr;
}

int ApproximateTokens(const std::string& text) {
  long words = 0;
  bool in_word = false;
  for (const unsigned char ch : text) {
    const bool space = std::isspace(ch) != 0;
    if (!space && !in_word) ++words;
    in_word = !space;
  }
  // ceil(4/3 x words) in integers.
  const long tokens = (4 * words + 2) / 3;
  return static_cast<int>(std::clamp(tokens, 1L, static_cast<long>(kMaxTokenField)));
}

Workload LoadWorkload(const std::string& path, int max_output_tokens) {
  if (max_output_tokens < 1) {
    throw UserError(fmt::format("max_output_tokens must be >= 1, got {}", max_output_tokens));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw UserError(fmt::format("cannot open workload file '{}': {}.", path, std::strerror(errno)));
  }
  Workload out;
  out.source = path;
  const int first = FirstSignificantChar(in);
  if (in.bad()) {
    throw UserError(fmt::format("cannot read workload file '{}' (is it a directory?).", path));
  }
  if (first == std::char_traits<char>::eof()) {
    throw UserError(fmt::format("workload file '{}' is empty.", path));
  }
  if (first == '[') {
    LoadArray(in, path, max_output_tokens, out);
  } else if (first == '{') {
    LoadLines(in, path, max_output_tokens, out);
  } else {
    throw UserError(fmt::format(
        "workload file '{}' must be a JSON array (starting with '[') or JSON lines (each line "
        "starting with '{{'), but it starts with '{}'.",
        path, static_cast<char>(first)));
  }
  return out;
}

void WriteWorkloadJsonl(const Workload& workload, const std::string& path) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) {
    throw UserError(
        fmt::format("cannot write workload file '{}': {}.", path, std::strerror(errno)));
  }
  for (const auto& r : workload.records) {
    // ordered_json keeps the mix-instruct field order, which makes files easier to read.
    nlohmann::ordered_json j;
    j["id"] = r.id;
    j["instruction"] = "";
    j["input"] = "";
    j["prompt_tokens"] = r.prompt_tokens;
    j["candidates"] = nlohmann::ordered_json::array();
    for (const auto& c : r.candidates) {
      nlohmann::ordered_json cj;
      cj["model"] = c.model;
      cj["text"] = "";
      cj["output_tokens"] = c.output_tokens;
      cj["scores"] = {{"bertscore", c.score}};
      if (c.pred_score >= 0.0) cj["pred_score"] = c.pred_score;
      if (c.pred_output_tokens >= 0) cj["pred_output_tokens"] = c.pred_output_tokens;
      j["candidates"].push_back(std::move(cj));
    }
    out << j.dump() << '\n';
  }
  out.close();
  if (!out) throw UserError(fmt::format("failed while writing workload file '{}'.", path));
}

std::vector<int> CandidateIndex(const Workload& workload, const std::vector<std::string>& models) {
  const size_t n = models.size();
  std::vector<int> index(workload.records.size() * n, -1);
  for (size_t r = 0; r < workload.records.size(); ++r) {
    const WorkloadRecord& record = workload.records[r];
    for (size_t e = 0; e < n; ++e) {
      for (size_t c = 0; c < record.candidates.size(); ++c) {
        if (record.candidates[c].model == models[e]) index[r * n + e] = static_cast<int>(c);
      }
      if (index[r * n + e] < 0) {
        throw UserError("workload " + workload.source + " record " + std::to_string(r) + " (id '" +
                        record.id + "') has no candidate of model '" + models[e] +
                        "' (an expert's name, or its expert.<name>.model)");
      }
    }
  }
  return index;
}

}  // namespace qosroute
