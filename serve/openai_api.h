#pragma once
// What serve/ reads from and writes into OpenAI-compatible request bodies, and the two
// qosroute extensions:
//  - the body field "qosroute" (client -> router, stripped before forwarding):
//      {"prompt_tokens": 57, "pred_score": {"<expert>": 0.71, ...},
//       "pred_output_tokens": {"<expert>": 80, ...}}
//    every member optional; the router's predictor fills what is missing;
//  - the header X-Qosroute-Truth (load generator -> fake backend, passed through by the
//    router; a real server ignores unknown headers): "prompt=57;<expert>=80:0.71;..." gives
//    the emulated expert the request's true prompt length, output length and score.
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace qosroute {

constexpr const char* kTruthHeader = "X-Qosroute-Truth";
constexpr const char* kExpertHeader = "X-Qosroute-Expert";  // router -> client: who served it

struct CompletionRequest {
  bool chat = false;  // /v1/chat/completions
  bool stream = false;
  std::optional<int> max_tokens;  // max_tokens (or max_completion_tokens for chat)
  std::string prompt_text;        // the prompt, or the messages' contents joined
  // The extension, when given.
  std::optional<int> prompt_tokens;
  std::map<std::string, double> pred_score;
  std::map<std::string, int> pred_output_tokens;
  nlohmann::json forward_body;  // the body without the extension
};

// Parses and checks a client body; throws UserError with a message for a 400 answer.
CompletionRequest ParseCompletionRequest(const std::string& body, bool chat);

struct TruthHeader {
  int prompt_tokens = 0;  // 0 when absent
  struct Answer {
    int output_tokens = 0;
    double score = 0.0;
  };
  std::map<std::string, Answer> answers;  // per expert name
};
std::string FormatTruthHeader(const TruthHeader& truth);
// Throws UserError describing the first malformed part.
TruthHeader ParseTruthHeader(const std::string& value);

// A prompt of `tokens` tokens as ApproximateTokens counts them (within one token).
std::string SyntheticPrompt(int tokens);

}  // namespace qosroute
