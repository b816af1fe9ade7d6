// Workload loading (real mix-instruct shape, JSON array and JSON lines), the calibrated
// synthetic generator, and the errors bad files must produce.
#include "env/workload.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <fstream>
#include <string>

#include "common/error.h"

namespace qosroute {
namespace {

std::string WriteFile(const std::string& name, const std::string& text) {
  // The pid keeps files of tests that CTest runs in parallel apart.
  const std::string path = testing::TempDir() + std::to_string(getpid()) + "_" + name;
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

// Runs LoadWorkload on `text` and returns the UserError message ("" when none was thrown).
std::string LoadError(const std::string& name, const std::string& text) {
  const std::string path = WriteFile(name, text);
  try {
    LoadWorkload(path);
  } catch (const UserError& e) {
    return e.what();
  }
  return "";
}

// One valid JSON-lines record, with placeholders replaced by the caller.
constexpr const char* kGoodLine =
    R"({"id": "a", "instruction": "say hi", "input": "", "candidates": [)"
    R"({"model": "m1", "text": "hi there", "scores": {"bertscore": 0.8, "bleu": 3}}]})";

TEST(ApproximateTokens, IsCeilOfFourThirdsWordsAndAtLeastOne) {
  EXPECT_EQ(ApproximateTokens(""), 1);
  EXPECT_EQ(ApproximateTokens("   \n\t "), 1);
  EXPECT_EQ(ApproximateTokens("one"), 2);            // ceil(4/3)
  EXPECT_EQ(ApproximateTokens("one two three"), 4);  // 4
  EXPECT_EQ(ApproximateTokens(" a  b\tc\nd "), 6);   // ceil(16/3)
}

TEST(WorkloadRecord, FindReturnsTheModelsCandidateOrNull) {
  WorkloadRecord r;
  r.candidates.push_back({"a", 5, 0.5});
  r.candidates.push_back({"b", 7, 0.7});
  ASSERT_NE(r.Find("b"), nullptr);
  EXPECT_EQ(r.Find("b")->output_tokens, 7);
  EXPECT_EQ(r.Find("c"), nullptr);
}

TEST(SyntheticWorkload, PromptAndOutputLengthsMatchMixInstructStatistics) {
  SyntheticOptions o;
  o.num_requests = 20000;
  o.seed = 7;
  const Workload w = GenerateSyntheticWorkload(o);
  ASSERT_EQ(w.records.size(), 20000u);
  double prompt_sum = 0.0, output_sum = 0.0;
  long outputs = 0;
  for (const auto& r : w.records) {
    ASSERT_GE(r.prompt_tokens, 1);
    prompt_sum += r.prompt_tokens;
    ASSERT_EQ(r.candidates.size(), o.models.size());
    for (const auto& c : r.candidates) {
      ASSERT_GE(c.output_tokens, 1);
      ASSERT_LE(c.output_tokens, 127);
      output_sum += c.output_tokens;
      ++outputs;
    }
  }
  EXPECT_NEAR(prompt_sum / w.records.size(), 3.77 + 17.84, 0.5);
  EXPECT_NEAR(output_sum / outputs, 68.87, 1.0);
}

TEST(SyntheticWorkload, PerModelMeanScoresMatchTheTable) {
  SyntheticOptions o;
  o.num_requests = 20000;
  o.seed = 11;
  const Workload w = GenerateSyntheticWorkload(o);
  for (size_t m = 0; m < o.models.size(); ++m) {
    double sum = 0.0;
    for (const auto& r : w.records) {
      const double s = r.candidates[m].score;
      ASSERT_GE(s, 0.0);
      ASSERT_LE(s, 1.0);
      sum += s;
    }
    EXPECT_NEAR(sum / w.records.size(), o.models[m].mean_score, 0.01) << o.models[m].name;
  }
}

TEST(SyntheticWorkload, ScoresArePositivelyCorrelatedAcrossModels) {
  SyntheticOptions o;
  o.num_requests = 5000;
  o.seed = 3;
  const Workload w = GenerateSyntheticWorkload(o);
  const size_t n = w.records.size();
  for (size_t a = 0; a < o.models.size(); ++a) {
    for (size_t b = a + 1; b < o.models.size(); ++b) {
      double ma = 0, mb = 0;
      for (const auto& r : w.records) {
        ma += r.candidates[a].score / n;
        mb += r.candidates[b].score / n;
      }
      double cov = 0, va = 0, vb = 0;
      for (const auto& r : w.records) {
        const double da = r.candidates[a].score - ma, db = r.candidates[b].score - mb;
        cov += da * db;
        va += da * da;
        vb += db * db;
      }
      EXPECT_GT(cov / std::sqrt(va * vb), 0.3) << o.models[a].name << " vs " << o.models[b].name;
    }
  }
}

TEST(SyntheticWorkload, IsDeterministicPerSeedAndNamesRecordsBySeed) {
  SyntheticOptions o;
  o.num_requests = 50;
  o.seed = 42;
  const Workload a = GenerateSyntheticWorkload(o);
  const Workload b = GenerateSyntheticWorkload(o);
  o.seed = 43;
  const Workload c = GenerateSyntheticWorkload(o);
  EXPECT_EQ(a.records[3].id, "synthetic-42-3");
  bool any_difference = false;
  for (size_t i = 0; i < a.records.size(); ++i) {
    EXPECT_EQ(a.records[i].prompt_tokens, b.records[i].prompt_tokens);
    EXPECT_EQ(a.records[i].candidates[0].score, b.records[i].candidates[0].score);
    any_difference |= a.records[i].candidates[0].score != c.records[i].candidates[0].score;
  }
  EXPECT_TRUE(any_difference);
}

TEST(SyntheticWorkload, RejectsBadOptions) {
  SyntheticOptions o;
  o.num_requests = 0;
  EXPECT_THROW(GenerateSyntheticWorkload(o), UserError);
  o.num_requests = 10;
  o.models.push_back(o.models.front());
  EXPECT_THROW(GenerateSyntheticWorkload(o), UserError);
}

TEST(WorkloadFile, WriteThenLoadRoundTripsExactly) {
  SyntheticOptions o;
  o.num_requests = 200;
  o.seed = 5;
  Workload w = GenerateSyntheticWorkload(o);
  w.records[0].candidates[1].pred_score = 0.625;
  w.records[0].candidates[1].pred_output_tokens = 33;
  const std::string path = testing::TempDir() + std::to_string(getpid()) + "_roundtrip.jsonl";
  WriteWorkloadJsonl(w, path);
  const Workload back = LoadWorkload(path);
  EXPECT_EQ(back.source, path);
  ASSERT_EQ(back.records.size(), w.records.size());
  for (size_t i = 0; i < w.records.size(); ++i) {
    const auto& x = w.records[i];
    const auto& y = back.records[i];
    EXPECT_EQ(x.id, y.id);
    EXPECT_EQ(x.prompt_tokens, y.prompt_tokens);
    ASSERT_EQ(x.candidates.size(), y.candidates.size());
    for (size_t k = 0; k < x.candidates.size(); ++k) {
      EXPECT_EQ(x.candidates[k].model, y.candidates[k].model);
      EXPECT_EQ(x.candidates[k].output_tokens, y.candidates[k].output_tokens);
      EXPECT_EQ(x.candidates[k].score, y.candidates[k].score);  // bit-exact
      EXPECT_EQ(x.candidates[k].pred_score, y.candidates[k].pred_score);
      EXPECT_EQ(x.candidates[k].pred_output_tokens, y.candidates[k].pred_output_tokens);
    }
  }
}

TEST(WorkloadFile, JsonArrayAndJsonLinesLoadTheSameRecords) {
  const std::string rec1 =
      R"({"id": "r1", "prompt_tokens": 12, "candidates": [{"model": "a", "output_tokens": 30,)"
      R"( "scores": {"bertscore": 0.7}}, {"model": "b", "output_tokens": 40, "scores": {"bertscore": 0.6}}]})";
  const std::string rec2 =
      R"({"id": "r2", "prompt_tokens": 5, "candidates": [{"model": "a", "output_tokens": 9,)"
      R"( "scores": {"bertscore": 0.9}}]})";
  const Workload lines = LoadWorkload(WriteFile("both.jsonl", "\n" + rec1 + "\n\n" + rec2 + "\n"));
  const Workload array = LoadWorkload(WriteFile("both.json", "  [" + rec1 + ",\n" + rec2 + "]"));
  for (const Workload* w : {&lines, &array}) {
    ASSERT_EQ(w->records.size(), 2u);
    EXPECT_EQ(w->records[0].id, "r1");
    EXPECT_EQ(w->records[0].prompt_tokens, 12);
    EXPECT_EQ(w->records[0].Find("b")->output_tokens, 40);
    EXPECT_DOUBLE_EQ(w->records[0].Find("b")->score, 0.6);
    EXPECT_EQ(w->records[1].candidates.size(), 1u);
    EXPECT_EQ(w->records[1].candidates[0].pred_score, -1.0);  // absent
  }
}

TEST(WorkloadFile, LoadsTheRealMixInstructShapeFromText) {
  const Workload w =
      LoadWorkload(std::string(QOSROUTE_SOURCE_DIR) + "/configs/data/sample_mixinstruct.json");
  ASSERT_EQ(w.records.size(), 3u);
  // Prompt = instruction + " " + input, approximated as ceil(4/3 x words).
  EXPECT_EQ(w.records[0].id, "unified_chip2/69962");
  EXPECT_EQ(w.records[0].prompt_tokens, 8);   // 6 words
  EXPECT_EQ(w.records[1].prompt_tokens, 20);  // 7 + 8 words
  EXPECT_EQ(w.records[2].prompt_tokens, 11);  // 8 words, empty input
  ASSERT_EQ(w.records[0].candidates.size(), 3u);
  EXPECT_EQ(w.records[0].Find("chatglm-6b")->output_tokens, 20);  // 15 words
  EXPECT_EQ(w.records[0].Find("mpt-7b-instruct")->output_tokens, 2);
  EXPECT_DOUBLE_EQ(w.records[0].Find("mpt-7b-instruct")->score, 0.5123);
  EXPECT_EQ(w.records[1].candidates.size(), 2u);
  EXPECT_EQ(w.records[1].Find("mpt-7b-instruct"), nullptr);
  EXPECT_DOUBLE_EQ(w.records[2].Find("alpaca-native")->score, 0.7436);
}

TEST(WorkloadFile, ExplicitTokenCountsAndPredictionsWinAndAreClipped) {
  const std::string path = WriteFile(
      "explicit.jsonl",
      R"({"id": 17, "instruction": "a b c", "input": "d", "prompt_tokens": 50, "candidates": [)"
      R"({"model": "a", "text": "x", "output_tokens": 400, "scores": {"bertscore": 1.0},)"
      R"( "pred_score": 1.3, "pred_output_tokens": 12.4},)"
      R"({"model": "b", "text": "x", "output_tokens": 0, "scores": {"bertscore": 0.0}}]})"
      "\n");
  const Workload w = LoadWorkload(path, 100);
  const WorkloadRecord& r = w.records.at(0);
  EXPECT_EQ(r.id, "17");
  EXPECT_EQ(r.prompt_tokens, 50);
  EXPECT_EQ(r.Find("a")->output_tokens, 100);  // clipped to max_output_tokens
  EXPECT_EQ(r.Find("b")->output_tokens, 1);    // at least one token
  EXPECT_EQ(r.Find("a")->pred_score, 1.0);
  EXPECT_EQ(r.Find("a")->pred_output_tokens, 12);
  EXPECT_EQ(r.Find("b")->pred_output_tokens, -1);
}

// ---- Bad input: every case is a UserError naming the file and the place. ----

TEST(WorkloadErrors, MissingFileNamesThePath) {
  const std::string path = testing::TempDir() + "no_such_workload.jsonl";
  try {
    LoadWorkload(path);
    FAIL() << "no error";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
  }
}

TEST(WorkloadErrors, EmptyFileIsAnError) {
  const std::string msg = LoadError("empty.jsonl", "  \n\n ");
  EXPECT_NE(msg.find("empty.jsonl"), std::string::npos) << msg;
  EXPECT_NE(msg.find("empty"), std::string::npos) << msg;
  EXPECT_NE(LoadError("empty_array.json", "[]").find("no records"), std::string::npos);
}

TEST(WorkloadErrors, MalformedJsonLineNamesTheLine) {
  const std::string msg =
      LoadError("malformed.jsonl", std::string(kGoodLine) + "\n" + kGoodLine + "\n{\"id\": \n");
  EXPECT_NE(msg.find("malformed.jsonl"), std::string::npos) << msg;
  EXPECT_NE(msg.find("line 3"), std::string::npos) << msg;
  EXPECT_NE(msg.find("not valid JSON"), std::string::npos) << msg;
}

TEST(WorkloadErrors, MalformedJsonArrayNamesThePosition) {
  const std::string msg = LoadError("malformed.json", "[\n{\"id\": 1,,}\n]");
  EXPECT_NE(msg.find("malformed.json"), std::string::npos) << msg;
  EXPECT_NE(msg.find("line 2"), std::string::npos) << msg;
}

TEST(WorkloadErrors, UnknownFormatIsAnError) {
  EXPECT_NE(LoadError("format.txt", "hello").find("format.txt"), std::string::npos);
}

TEST(WorkloadErrors, MissingCandidatesNamesFieldAndLine) {
  const std::string msg = LoadError(
      "nocand.jsonl", std::string(kGoodLine) + "\n" + R"({"id": "b", "instruction": "x"})" + "\n");
  EXPECT_NE(msg.find("nocand.jsonl"), std::string::npos) << msg;
  EXPECT_NE(msg.find("line 2"), std::string::npos) << msg;
  EXPECT_NE(msg.find("'candidates' is missing"), std::string::npos) << msg;
}

TEST(WorkloadErrors, EmptyCandidateListIsAnError) {
  const std::string msg =
      LoadError("emptycand.json", R"([{"id": "b", "instruction": "x", "candidates": []}])");
  EXPECT_NE(msg.find("emptycand.json"), std::string::npos) << msg;
  EXPECT_NE(msg.find("record index 0"), std::string::npos) << msg;
  EXPECT_NE(msg.find("'candidates' is empty"), std::string::npos) << msg;
}

TEST(WorkloadErrors, MissingModelNamesTheCandidate) {
  const std::string msg = LoadError(
      "nomodel.json",
      R"([{"instruction": "x", "candidates": [{"model": "a", "text": "t", "scores": {"bertscore": 0.5}}]},)"
      R"( {"instruction": "x", "candidates": [{"text": "t", "scores": {"bertscore": 0.5}}]}])");
  EXPECT_NE(msg.find("nomodel.json"), std::string::npos) << msg;
  EXPECT_NE(msg.find("record index 1"), std::string::npos) << msg;
  EXPECT_NE(msg.find("'candidates[0].model' is missing"), std::string::npos) << msg;
}

TEST(WorkloadErrors, MissingBertscoreNamesTheField) {
  const std::string msg = LoadError(
      "nobert.jsonl",
      R"({"instruction": "x", "candidates": [{"model": "a", "text": "t", "scores": {"bleu": 1}}]})");
  EXPECT_NE(msg.find("nobert.jsonl"), std::string::npos) << msg;
  EXPECT_NE(msg.find("line 1"), std::string::npos) << msg;
  EXPECT_NE(msg.find("'candidates[0].scores.bertscore' is missing"), std::string::npos) << msg;
}

TEST(WorkloadErrors, StringWhereANumberBelongsNamesTheField) {
  const std::string msg = LoadError(
      "type.jsonl",
      R"({"instruction": "x", "candidates": [{"model": "a", "text": "t", "scores": {"bertscore": "0.5"}}]})");
  EXPECT_NE(msg.find("type.jsonl"), std::string::npos) << msg;
  EXPECT_NE(msg.find("'candidates[0].scores.bertscore' must be a number, got string"),
            std::string::npos)
      << msg;
  const std::string tokens = LoadError(
      "type2.jsonl",
      R"({"prompt_tokens": "many", "candidates": [{"model": "a", "text": "t", "scores": {"bertscore": 0.5}}]})");
  EXPECT_NE(tokens.find("'prompt_tokens' must be a number"), std::string::npos) << tokens;
}

TEST(WorkloadErrors, DuplicateModelInARecordIsAnError) {
  const std::string msg = LoadError(
      "dup.jsonl",
      R"({"instruction": "x", "candidates": [{"model": "a", "text": "t", "scores": {"bertscore": 0.5}},)"
      R"( {"model": "a", "text": "u", "scores": {"bertscore": 0.6}}]})");
  EXPECT_NE(msg.find("dup.jsonl"), std::string::npos) << msg;
  EXPECT_NE(msg.find("candidates[1].model"), std::string::npos) << msg;
  EXPECT_NE(msg.find("'a'"), std::string::npos) << msg;
}

TEST(WorkloadErrors, ScoreOutsideUnitIntervalIsAnError) {
  const std::string msg = LoadError(
      "range.jsonl",
      R"({"instruction": "x", "candidates": [{"model": "a", "text": "t", "scores": {"bertscore": 1.5}}]})");
  EXPECT_NE(msg.find("bertscore' must be in [0, 1]"), std::string::npos) << msg;
}

}  // namespace
}  // namespace qosroute
