#pragma once
// Workload records in the mix-instruct shape, reduced to what the simulator needs, plus the
// loaders and the calibrated synthetic generator.
//
// A mix-instruct record (LLM-Blender) is
//   {id, instruction, input, output, candidates: [{decoding_method, model, text,
//    scores: {logprobs, bleu, rouge1, rouge2, rougeL, rougeLsum, bertscore, bleurt, bartscore}}]}
// qosroute also reads these optional fields, which win over the text approximation:
//   record.prompt_tokens                    prompt length in tokens
//   candidate.output_tokens                 response length in tokens
//   candidate.pred_score, candidate.pred_output_tokens   a predictor's outputs (ref code)
#include <cstdint>
#include <string>
#include <vector>

#include "common/rng.h"

namespace qosroute {

// One candidate response of one model to one prompt.
struct CandidateRecord {
  std::string model;
  int output_tokens = 0;  // true response length in tokens, >= 1
  double score = 0.0;     // true response quality (BERTScore, 0..1)
  // Optional predictor outputs carried in the data (negative when absent).
  double pred_score = -1.0;
  int pred_output_tokens = -1;
};

struct WorkloadRecord {
  std::string id;
  int prompt_tokens = 0;  // >= 1
  std::vector<CandidateRecord> candidates;
  // The candidate for a model, or nullptr.
  const CandidateRecord* Find(const std::string& model) const;
};

struct Workload {
  std::string source;  // file path or "synthetic(seed=...)", for messages
  std::vector<WorkloadRecord> records;
};

// Token counts from text when no explicit count is present: ceil(4/3 x whitespace-separated
// words), at least 1. LLaMA's tokenizer gives about 1.3 tokens per English word; this is an
// approximation, documented as such, because no tokenizer is available here.
int ApproximateTokens(const std::string& text);

// Loads a JSON array or JSON-lines file of mix-instruct records. Throws UserError naming the
// file (and line for JSON lines, record index for arrays) and the field that is wrong.
// max_output_tokens clips response lengths (the ref's max-128 build: outputs <= 127).
Workload LoadWorkload(const std::string& path, int max_output_tokens = 127);

// Per-model facts the synthetic generator is calibrated to (spec section 6).
struct SyntheticModel {
  std::string name;
  double mean_score;          // mean BERTScore on mix-instruct
  double mean_output_tokens;  // mean response length
};
std::vector<SyntheticModel> DefaultSyntheticModels();

struct SyntheticOptions {
  int num_requests = 5000;
  uint64_t seed = 0;
  std::vector<SyntheticModel> models = DefaultSyntheticModels();
  int max_output_tokens = 127;
};

// Calibrated synthetic set in the same record shape: prompt length ~ instruction (mean 3.77)
// + input (mean 17.84, often empty) tokens; scores correlated across models through a
// per-prompt difficulty; output lengths correlated through a per-prompt length factor and
// clipped to 1..max_output_tokens.
Workload GenerateSyntheticWorkload(const SyntheticOptions& options);

// Writes records as JSON lines in the mix-instruct shape with explicit token-count fields.
// Candidate text is left empty to keep files small (the token counts carry the lengths).
void WriteWorkloadJsonl(const Workload& workload, const std::string& path);

// [record][model] -> the position of that model's candidate in the record, for `models` in
// order (the experts of a config). UserError naming the record and model when one is missing.
std::vector<int> CandidateIndex(const Workload& workload, const std::vector<std::string>& models);

}  // namespace qosroute
