// Request bodies and the qosroute extensions of serve/ (see openai_api.h).
#include "serve/openai_api.h"

#include <cmath>
#include <sstream>

#include "common/error.h"
#include "env/workload.h"

namespace qosroute {
namespace {

int PositiveInt(const nlohmann::json& v, const std::string& what) {
  if (!v.is_number_integer() || v.get<long long>() < 1 || v.get<long long>() > 1000000)
    throw UserError(what + " must be an integer from 1 to 1000000");
  return static_cast<int>(v.get<long long>());
}

std::string PromptText(const nlohmann::json& body, bool chat) {
  std::string text;
  if (chat) {
    const auto it = body.find("messages");
    if (it == body.end() || !it->is_array() || it->empty())
      throw UserError("'messages' must be a non-empty array");
    for (const auto& m : *it) {
      if (!m.is_object() || !m.contains("content"))
        throw UserError("every message must be an object with 'content'");
      const auto& c = m["content"];
      if (c.is_string()) {
        text += c.get<std::string>() + "\n";
      } else if (c.is_array()) {  // content parts: count the text ones
        for (const auto& part : c)
          if (part.is_object() && part.value("type", "") == "text" && part.contains("text") &&
              part["text"].is_string())
            text += part["text"].get<std::string>() + "\n";
      } else if (!c.is_null()) {
        throw UserError("message 'content' must be a string or an array of parts");
      }
    }
    return text;
  }
  const auto it = body.find("prompt");
  if (it == body.end()) throw UserError("'prompt' is required");
  if (it->is_string()) return it->get<std::string>();
  if (it->is_array() && it->size() == 1 && (*it)[0].is_string()) return (*it)[0].get<std::string>();
  throw UserError("'prompt' must be a string (batched prompts are not routed)");
}

void ReadExtension(const nlohmann::json& ext, CompletionRequest* out) {
  if (!ext.is_object()) throw UserError("'qosroute' must be an object");
  if (ext.contains("prompt_tokens"))
    out->prompt_tokens = PositiveInt(ext["prompt_tokens"], "qosroute.prompt_tokens");
  if (ext.contains("pred_score")) {
    if (!ext["pred_score"].is_object()) throw UserError("qosroute.pred_score must be an object");
    for (const auto& [name, v] : ext["pred_score"].items()) {
      if (!v.is_number() || !std::isfinite(v.get<double>()) || v.get<double>() < 0 ||
          v.get<double>() > 1)
        throw UserError("qosroute.pred_score." + name + " must be a number in [0, 1]");
      out->pred_score[name] = v.get<double>();
    }
  }
  if (ext.contains("pred_output_tokens")) {
    if (!ext["pred_output_tokens"].is_object())
      throw UserError("qosroute.pred_output_tokens must be an object");
    for (const auto& [name, v] : ext["pred_output_tokens"].items())
      out->pred_output_tokens[name] = PositiveInt(v, "qosroute.pred_output_tokens." + name);
  }
}

}  // namespace

CompletionRequest ParseCompletionRequest(const std::string& body, bool chat) {
  nlohmann::json j = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) throw UserError("the body is not valid JSON");
  if (!j.is_object()) throw UserError("the body must be a JSON object");
  CompletionRequest out;
  out.chat = chat;
  out.prompt_text = PromptText(j, chat);
  if (j.contains("stream")) {
    if (!j["stream"].is_boolean()) throw UserError("'stream' must be true or false");
    out.stream = j["stream"].get<bool>();
  }
  for (const char* key : {"max_tokens", "max_completion_tokens"}) {
    if (j.contains(key) && !j[key].is_null()) out.max_tokens = PositiveInt(j[key], key);
  }
  if (j.contains("qosroute")) {
    ReadExtension(j["qosroute"], &out);
    j.erase("qosroute");
  }
  out.forward_body = std::move(j);
  return out;
}

std::string FormatTruthHeader(const TruthHeader& truth) {
  std::ostringstream out;
  out << "prompt=" << truth.prompt_tokens;
  out.precision(6);
  for (const auto& [name, a] : truth.answers)
    out << ";" << name << "=" << a.output_tokens << ":" << a.score;
  return out.str();
}

TruthHeader ParseTruthHeader(const std::string& value) {
  TruthHeader t;
  std::istringstream in(value);
  std::string part;
  while (std::getline(in, part, ';')) {
    const size_t eq = part.find('=');
    if (eq == std::string::npos || eq == 0)
      throw UserError(std::string(kTruthHeader) + ": '" + part + "' is not name=value");
    const std::string name = part.substr(0, eq), v = part.substr(eq + 1);
    char* end = nullptr;
    if (name == "prompt") {
      const long p = std::strtol(v.c_str(), &end, 10);
      if (v.empty() || *end != '\0' || p < 1 || p > 1000000)
        throw UserError(std::string(kTruthHeader) + ": prompt='" + v + "' is not a token count");
      t.prompt_tokens = static_cast<int>(p);
      continue;
    }
    const size_t colon = v.find(':');
    const std::string tokens = v.substr(0, colon);
    const long n = std::strtol(tokens.c_str(), &end, 10);
    if (colon == std::string::npos || tokens.empty() || *end != '\0' || n < 1 || n > 1000000)
      throw UserError(std::string(kTruthHeader) + ": '" + part + "' is not expert=tokens:score");
    const std::string score = v.substr(colon + 1);
    const double s = std::strtod(score.c_str(), &end);
    if (score.empty() || *end != '\0' || !(s >= 0.0 && s <= 1.0))
      throw UserError(std::string(kTruthHeader) + ": score in '" + part + "' is not in [0, 1]");
    t.answers[name] = {static_cast<int>(n), s};
  }
  return t;
}

std::string SyntheticPrompt(int tokens) {
  // ApproximateTokens counts ceil(4/3 x words): 3 words per 4 tokens.
  const int words = std::max(1, (3 * tokens) / 4);
  std::string text;
  text.reserve(static_cast<size_t>(words) * 5);
  for (int w = 0; w < words; ++w) text += w == 0 ? "word" : " word";
  return text;
}

}  // namespace qosroute
