// Model selection on validation episodes (learner/policy_selection.h): the rule, the scores
// against independent evaluations, and the trainer's policy_selected.h5, select.csv and their
// exact resume.
#include "learner/policy_selection.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "checkpoint/files.h"
#include "common/error.h"
#include "env/evaluation.h"
#include "launch/config.h"
#include "learner/agent_evaluation.h"
#include "learner/policy_io.h"
#include "learner/train_loop.h"
#include "sac_test_util.h"
#include "scratch_dir.h"

namespace qosroute {
namespace {

namespace fs = std::filesystem;

// Seconds per run: 2 experts, 200-request training episodes, batch 32, HAN hidden 16, and
// validation at two rates over 2 seeds of 100 requests, with and without a deviation margin.
// eval_every_frames = 100 gives four snapshots (0, 100, 200 and 300 updates) to choose from.
constexpr char kConfig[] = R"(
[cluster]
experts = alpaca-native,chatglm-6b
[workload]
synthetic_records = 2000
requests_per_episode = 200
rate = 6.0
[env]
lookahead_features = true
lookahead_value = true
[train]
total_frames = 400
warmup_frames = 100
batch_size = 32
replay_capacity = 256
eval_every_frames = 100
eval_seeds = 1
log_every_frames = 100
num_envs = 2
threads = 1
[sac]
prior = greedy-qos
mlp_hidden = 16
actor_lr = 3e-3
critic_lr = 3e-3
[han]
hidden = 16
heads = 4
layers = 1
[select]
rates = 2, 8
margins = 0, 3
seeds = 2
requests_per_episode = 100
[checkpoint]
every_updates = 0
every_minutes = 0
keep = 2
)";

std::string TestRoot() {
  return test_util::ScratchRoot("qosroute_policy_selection_test");
}

std::string FreshDir(const std::string& name) {
  return test_util::FreshDirUnder(TestRoot(), name);
}

std::string ReadAll(const std::string& path) {
  return test_util::ReadWholeFile(path);
}

RunConfig LoadTestConfig(const std::vector<std::string>& overrides = {}) {
  static const std::string path = [] {
    const std::string p = (fs::path(TestRoot()) / "policy_selection_test.cfg").string();
    std::ofstream(p) << kConfig;
    return p;
  }();
  return LoadRunConfig(path, overrides);
}

struct TrainingSetup {
  RunConfig config;
  std::shared_ptr<const Workload> workload;
  SacConfig sac;
};

// The pieces launch/ would build from the config (MakeSacConfig lives in the binary).
TrainingSetup MakeSetup() {
  TrainingSetup s;
  s.config = LoadTestConfig();
  s.workload = LoadConfiguredWorkload(s.config);
  const TrainConfig& t = s.config.train;
  s.sac.actor_lr = s.config.sac.actor_lr;
  s.sac.critic_lr = s.config.sac.critic_lr;
  s.sac.mlp_hidden = s.config.sac.mlp_hidden;
  s.sac.han.hidden(t.hidden).heads(t.heads).layers(t.layers);
  s.sac.num_experts = static_cast<int64_t>(s.config.env.experts.size());
  s.sac.max_running = s.config.env.max_running_slots;
  s.sac.max_waiting = s.config.env.max_waiting_slots;
  s.sac.schema = sac_test_util::Layout(/*lookahead=*/true, /*value=*/true);
  s.sac.prior = s.config.sac.prior;
  s.sac.prior_temperature = s.config.sac.prior_temperature;
  s.sac.prior_drop_value = s.config.greedy.drop_threshold;
  s.sac.seed = t.seed;
  s.sac.torch_threads = 1;
  return s;
}

PolicySelectionOptions SelectionOf(const RunConfig& c) {
  PolicySelectionOptions o;
  o.rates = c.select.rates;
  o.seeds = c.select.seeds;
  o.seed_base = c.select.seed_base;
  o.requests_per_episode = c.select.requests_per_episode;
  o.tolerance = c.select.tolerance;
  o.margins = c.select.margins;
  o.threads = 1;
  return o;
}

TrainLoopOptions MakeOptions(const TrainingSetup& s, const std::string& run_dir,
                             bool select = true) {
  const TrainConfig& t = s.config.train;
  TrainLoopOptions o;
  o.total_frames = t.total_frames;
  o.warmup_frames = t.warmup_frames;
  o.batch_size = t.batch_size;
  o.replay_capacity = t.replay_capacity;
  o.eval_every_frames = t.eval_every_frames;
  o.eval_seeds = t.eval_seeds;
  o.log_every_frames = t.log_every_frames;
  o.num_envs = t.num_envs;
  o.seed = t.seed;
  o.run_dir = run_dir;
  o.checkpoint.every_updates = 0;
  o.checkpoint.every_minutes = 0;
  o.checkpoint.keep = 2;
  if (select) o.selection = SelectionOf(s.config);
  return o;
}

SelectionScore MakeScore(double mean_gain, double min_gain) {
  SelectionScore s;
  s.mean_gain = mean_gain;
  s.min_gain = min_gain;
  return s;
}

void ExpectSameParameters(SacAgent& a, SacAgent& b) {
  const auto pa = a.NamedParameters();
  const auto pb = b.NamedParameters();
  ASSERT_EQ(pa.size(), pb.size());
  for (size_t i = 0; i < pa.size(); ++i) {
    EXPECT_EQ(pa[i].first, pb[i].first);
    EXPECT_TRUE(torch::equal(pa[i].second, pb[i].second)) << pa[i].first;
  }
}

std::unique_ptr<SacAgent> LoadAgent(const TrainingSetup& s, const std::string& file) {
  auto agent = std::make_unique<SacAgent>(s.sac);
  LoadPolicy(file, agent.get());
  return agent;
}

// select.csv parsed into one score per candidate (snapshot and margin), in file order.
struct CsvSnapshot {
  long updates = 0;
  double margin = 0.0;
  SelectionScore score;
  bool selected = false;
  int rows = 0;
};

std::vector<CsvSnapshot> ParseSelectCsv(const std::string& text) {
  std::istringstream in(text);
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line + "\n", PolicySelector::CsvHeader());
  std::vector<CsvSnapshot> out;
  while (std::getline(in, line)) {
    std::vector<std::string> c;
    std::string cell;
    std::istringstream row(line);
    while (std::getline(row, cell, ',')) c.push_back(cell);
    EXPECT_EQ(c.size(), 11u) << line;
    if (c.size() != 11u) continue;
    const long updates = std::stol(c[1]);
    const double margin = std::stod(c[2]);
    if (out.empty() || out.back().updates != updates || out.back().margin != margin)
      out.push_back({updates, margin, {}, false, 0});
    CsvSnapshot& snap = out.back();
    snap.score.margin = margin;
    snap.score.rates.push_back(std::stod(c[3]));
    snap.score.gain.push_back(std::stod(c[6]));
    snap.score.mean_gain = std::stod(c[8]);
    snap.score.min_gain = std::stod(c[9]);
    snap.selected = c[10] == "1";
    ++snap.rows;
  }
  return out;
}

// ---------------------------------------------------------------------------- the rule

TEST(SelectionRule, AdmissibleSnapshotsBeatInadmissibleOnesWhateverTheirMean) {
  const double tol = 0.0005;
  EXPECT_TRUE(IsAdmissible(MakeScore(0.01, -0.0005), tol));
  EXPECT_FALSE(IsAdmissible(MakeScore(0.01, -0.0006), tol));
  // A large mean gain bought with a loss at one rate loses to a small gain everywhere.
  EXPECT_TRUE(PreferCandidate(MakeScore(0.001, 0.0), MakeScore(0.03, -0.004), tol));
  EXPECT_FALSE(PreferCandidate(MakeScore(0.03, -0.004), MakeScore(0.001, 0.0), tol));
}

TEST(SelectionRule, AmongAdmissibleTheHigherMeanWinsAndTiesKeepTheIncumbent) {
  const double tol = 0.0005;
  EXPECT_TRUE(PreferCandidate(MakeScore(0.02, -0.0004), MakeScore(0.01, 0.002), tol));
  EXPECT_FALSE(PreferCandidate(MakeScore(0.01, 0.002), MakeScore(0.02, -0.0004), tol));
  EXPECT_FALSE(PreferCandidate(MakeScore(0.01, 0.0), MakeScore(0.01, 0.0), tol));
}

TEST(SelectionRule, WhileNoneIsAdmissibleTheBestWorstRateWins) {
  const double tol = 0.0005;
  EXPECT_TRUE(PreferCandidate(MakeScore(-0.01, -0.002), MakeScore(0.02, -0.003), tol));
  EXPECT_FALSE(PreferCandidate(MakeScore(0.05, -0.003), MakeScore(-0.01, -0.002), tol));
  // Tolerance 0: even a tiny loss is inadmissible.
  EXPECT_FALSE(IsAdmissible(MakeScore(0.01, -1e-9), 0.0));
}

// ---------------------------------------------------------------------------- scores

TEST(PolicySelector, ScoresArePairedDifferencesOfIndependentEvaluations) {
  torch::set_num_threads(1);
  TrainingSetup s = MakeSetup();
  // A soft prior: the untrained actor then moves the policy off greedy-qos.
  s.sac.prior_temperature = 1.0;
  SacAgent agent(s.sac);
  PolicySelector selector(s.config.env, s.workload, s.config.greedy, SelectionOf(s.config));
  ASSERT_TRUE(selector.enabled());
  const std::vector<SelectionScore> scores = selector.Score(agent, 7, 3);
  ASSERT_EQ(scores.size(), 2u);
  EXPECT_EQ(scores[0].margin, 0.0);
  EXPECT_EQ(scores[1].margin, 3.0);
  EXPECT_EQ(agent.config().deviation_margin, 0.0);  // put back
  const SelectionScore& score = scores[0];
  EXPECT_EQ(score.frames, 7);
  EXPECT_EQ(score.updates, 3);
  ASSERT_EQ(score.rates, (std::vector<double>{2.0, 8.0}));
  double min_gain = 1e9, mean_gain = 0;
  for (size_t k = 0; k < score.rates.size(); ++k) {
    EnvConfig at_rate = s.config.env;
    at_rate.arrivals.rate = score.rates[k];
    at_rate.requests_per_episode = 100;
    const auto mine = EvaluateAgent(agent, at_rate, s.workload, 3000000, 2);
    const GreedyQosOptions greedy = s.config.greedy;
    const auto theirs = EvaluatePolicy(
        at_rate, s.workload, [greedy] { return MakeHeuristic("greedy-qos", greedy); }, 3000000, 2,
        1);
    ASSERT_EQ(mine.size(), 2u);
    ASSERT_EQ(theirs.size(), 2u);
    EXPECT_EQ(mine[0].requests, 100);
    const double gain =
        ((mine[0].avg_qos - theirs[0].avg_qos) + (mine[1].avg_qos - theirs[1].avg_qos)) / 2;
    EXPECT_NEAR(score.agent_qos[k], (mine[0].avg_qos + mine[1].avg_qos) / 2, 1e-12);
    EXPECT_NEAR(score.greedy_qos[k], (theirs[0].avg_qos + theirs[1].avg_qos) / 2, 1e-12);
    EXPECT_NEAR(score.gain[k], gain, 1e-12);
    min_gain = std::min(min_gain, gain);
    mean_gain += gain / 2;
  }
  EXPECT_NEAR(score.min_gain, min_gain, 1e-12);
  EXPECT_NEAR(score.mean_gain, mean_gain, 1e-12);
  // An untrained actor moves the policy off greedy-qos: the score sees the difference.
  EXPECT_NE(score.gain, std::vector<double>(2, 0.0));
  // Scoring again (greedy-qos now cached) gives the same numbers.
  EXPECT_EQ(selector.Score(agent, 7, 3)[0].gain, score.gain);
  // A huge margin keeps greedy-qos's every choice: no gain, no loss.
  PolicySelectionOptions huge = SelectionOf(s.config);
  huge.margins = {1000.0};
  PolicySelector strict(s.config.env, s.workload, s.config.greedy, huge);
  for (double g : strict.Score(agent, 7, 3)[0].gain) EXPECT_NEAR(g, 0.0, 1e-9);
}

TEST(PolicySelector, APolicyThatActsAsGreedyQosGainsNothing) {
  torch::set_num_threads(1);
  TrainingSetup s = MakeSetup();
  SacAgent agent(s.sac);
  ASSERT_TRUE(sac_test_util::SilenceActor(agent));
  PolicySelector selector(s.config.env, s.workload, s.config.greedy, SelectionOf(s.config));
  const SelectionScore score = selector.Score(agent, 0, 0)[0];
  for (size_t k = 0; k < score.rates.size(); ++k) {
    EXPECT_NEAR(score.gain[k], 0.0, 1e-9) << "rate " << score.rates[k];
    EXPECT_GT(score.greedy_qos[k], 0.3);
  }
  EXPECT_TRUE(IsAdmissible(score, 0.0));
}

// ---------------------------------------------------------------------------- the trainer

class SelectionTraining : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    torch::set_num_threads(1);
    setup_ = new TrainingSetup(MakeSetup());
    straight_dir_ = new std::string(FreshDir("straight"));
    straight_ = new TrainResult;
    *straight_ = RunTraining(setup_->config.env, setup_->workload, setup_->sac,
                             MakeOptions(*setup_, *straight_dir_));
  }
  static void TearDownTestSuite() {
    delete setup_;
    delete straight_dir_;
    delete straight_;
  }
  static std::string SelectCsv(const std::string& dir) {
    return ReadAll((fs::path(dir) / "metrics" / "select.csv").string());
  }

  static TrainingSetup* setup_;
  static std::string* straight_dir_;
  static TrainResult* straight_;
};
TrainingSetup* SelectionTraining::setup_ = nullptr;
std::string* SelectionTraining::straight_dir_ = nullptr;
TrainResult* SelectionTraining::straight_ = nullptr;

TEST_F(SelectionTraining, EverySnapshotIsScoredAndTheRuleChoosesTheSelectedOne) {
  const TrainResult& r = *straight_;
  ASSERT_FALSE(r.stopped);
  EXPECT_EQ(r.selected_policy_path, *straight_dir_ + "/policy_selected.h5");
  ASSERT_TRUE(fs::exists(r.selected_policy_path));
  const std::vector<CsvSnapshot> snaps = ParseSelectCsv(SelectCsv(*straight_dir_));
  // After 100, 200, 300 and 400 frames, each with margins 0 and 3.
  ASSERT_EQ(snaps.size(), 8u);
  const std::vector<long> expected_updates = {0, 0, 100, 100, 200, 200, 300, 300};
  // Replay the rule: within a snapshot the better margin (the first among equals) is the
  // candidate; a candidate's rows are marked selected exactly when it replaced the
  // incumbent, and the last replacement is the run's selection.
  const CsvSnapshot* best = nullptr;
  for (size_t i = 0; i < snaps.size(); ++i) {
    EXPECT_EQ(snaps[i].updates, expected_updates[i]);
    EXPECT_EQ(snaps[i].margin, i % 2 == 0 ? 0.0 : 3.0);
    EXPECT_EQ(snaps[i].rows, 2);
    double min_gain = 1e9, mean = 0;
    for (double g : snaps[i].score.gain) {
      min_gain = std::min(min_gain, g);
      mean += g / 2;
    }
    EXPECT_NEAR(snaps[i].score.min_gain, min_gain, 2e-6);
    EXPECT_NEAR(snaps[i].score.mean_gain, mean, 2e-6);
  }
  for (size_t i = 0; i < snaps.size(); i += 2) {
    const CsvSnapshot* candidate =
        PreferCandidate(snaps[i + 1].score, snaps[i].score, 0.0005) ? &snaps[i + 1] : &snaps[i];
    const CsvSnapshot* other = candidate == &snaps[i] ? &snaps[i + 1] : &snaps[i];
    const bool take = best == nullptr || PreferCandidate(candidate->score, best->score, 0.0005);
    EXPECT_EQ(candidate->selected, take) << "snapshot at " << snaps[i].updates << " updates";
    EXPECT_FALSE(other->selected) << "snapshot at " << snaps[i].updates << " updates";
    if (take) best = candidate;
  }
  ASSERT_NE(best, nullptr);
  EXPECT_EQ(r.selected_updates, best->updates);
  EXPECT_NEAR(r.selected_mean_gain, best->score.mean_gain, 2e-6);
  EXPECT_EQ(r.selected_margin, best->margin);
  // The file holds that snapshot and its margin: validating it again at that margin gives
  // the score it was chosen with.
  EXPECT_EQ(ReadPolicyDeviationMargin(r.selected_policy_path), best->margin);
  EXPECT_EQ(ReadPolicyDeviationMargin(r.policy_path), 0.0);
  auto agent = LoadAgent(*setup_, r.selected_policy_path);
  PolicySelectionOptions at_margin = SelectionOf(setup_->config);
  at_margin.margins = {best->margin};
  PolicySelector selector(setup_->config.env, setup_->workload, setup_->config.greedy, at_margin);
  const SelectionScore rescored = selector.Score(*agent, 0, 0)[0];
  EXPECT_DOUBLE_EQ(rescored.mean_gain, r.selected_mean_gain);
  EXPECT_DOUBLE_EQ(rescored.min_gain, r.selected_min_gain);
}

TEST_F(SelectionTraining, SelectionDoesNotChangeTraining) {
  const std::string dir = FreshDir("without_selection");
  const TrainResult r = RunTraining(setup_->config.env, setup_->workload, setup_->sac,
                                    MakeOptions(*setup_, dir, /*select=*/false));
  EXPECT_TRUE(r.selected_policy_path.empty());
  EXPECT_EQ(r.selected_updates, -1);
  EXPECT_FALSE(fs::exists(fs::path(dir) / "policy_selected.h5"));
  EXPECT_FALSE(fs::exists(fs::path(dir) / "metrics" / "select.csv"));
  auto with = LoadAgent(*setup_, straight_->policy_path);
  auto without = LoadAgent(*setup_, r.policy_path);
  ExpectSameParameters(*with, *without);
  EXPECT_EQ(ReadAll(fs::path(dir) / "metrics" / "eval.csv"),
            ReadAll(fs::path(*straight_dir_) / "metrics" / "eval.csv"));
}

TEST_F(SelectionTraining, AStoppedRunResumedInAnotherFolderKeepsItsSelection) {
  // Stop after the snapshots at 0 and 100 updates, then continue in a fresh folder: the
  // checkpoint carries the selection so far (the policy file included).
  const std::string first = FreshDir("resume_first");
  TrainLoopOptions options = MakeOptions(*setup_, first);
  options.stop_at_updates = 150;
  const TrainResult stopped =
      RunTraining(setup_->config.env, setup_->workload, setup_->sac, options);
  ASSERT_TRUE(stopped.stopped);
  ASSERT_FALSE(stopped.checkpoint_path.empty());
  EXPECT_EQ(ParseSelectCsv(SelectCsv(first)).size(), 4u);  // 2 snapshots x 2 margins

  const std::string second = FreshDir("resume_second");
  options = MakeOptions(*setup_, second);
  options.resume_from = stopped.checkpoint_path;
  // Resuming after the snapshot chosen last: the final selection may be one made before the
  // stop, whose file only the checkpoint carries into the new folder.
  const TrainResult r = RunTraining(setup_->config.env, setup_->workload, setup_->sac, options);
  ASSERT_FALSE(r.stopped);
  EXPECT_EQ(SelectCsv(second), SelectCsv(*straight_dir_));
  EXPECT_EQ(r.selected_updates, straight_->selected_updates);
  auto resumed = LoadAgent(*setup_, r.selected_policy_path);
  auto straight = LoadAgent(*setup_, straight_->selected_policy_path);
  ExpectSameParameters(*resumed, *straight);
}

TEST_F(SelectionTraining, ResumingPutsBackASelectionMadeBeforeTheStop) {
  // Whatever the straight run chose, a resume from a checkpoint taken right after the first
  // snapshot, into an empty folder, must recreate that first snapshot's file before training
  // on (the folder has no policy_selected.h5 until then).
  const std::string first = FreshDir("early_first");
  TrainLoopOptions options = MakeOptions(*setup_, first);
  options.stop_at_updates = 1;
  const TrainResult stopped =
      RunTraining(setup_->config.env, setup_->workload, setup_->sac, options);
  ASSERT_TRUE(stopped.stopped);
  const std::string second = FreshDir("early_second");
  options = MakeOptions(*setup_, second);
  options.resume_from = stopped.checkpoint_path;
  options.stop_at_updates = 2;  // stops at once: no new snapshot is scored
  const TrainResult again = RunTraining(setup_->config.env, setup_->workload, setup_->sac, options);
  ASSERT_TRUE(again.stopped);
  ASSERT_TRUE(fs::exists(fs::path(second) / "policy_selected.h5"));
  auto restored = LoadAgent(*setup_, (fs::path(second) / "policy_selected.h5").string());
  auto original = LoadAgent(*setup_, (fs::path(first) / "policy_selected.h5").string());
  ExpectSameParameters(*restored, *original);
  EXPECT_EQ(SelectCsv(second), SelectCsv(first));
}

// ---------------------------------------------------------------------------- config

TEST(SelectConfigKeys, ParsesRatesAndDefaults) {
  const RunConfig c = LoadRunConfig("", {});
  EXPECT_TRUE(c.select.rates.empty());
  EXPECT_EQ(c.select.seeds, 5);
  EXPECT_EQ(c.select.seed_base, 3000000u);
  EXPECT_EQ(c.select.margins, std::vector<double>{0.0});
  const RunConfig d = LoadRunConfig("", {"select.rates=2, 4.5,8"});
  EXPECT_EQ(d.select.rates, (std::vector<double>{2.0, 4.5, 8.0}));
}

void ExpectConfigError(const std::vector<std::string>& overrides, const std::string& part) {
  try {
    LoadRunConfig("", overrides);
    ADD_FAILURE() << "no error for " << overrides.front();
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
  }
}

TEST(SelectConfigKeys, BadValuesNameTheKey) {
  ExpectConfigError({"select.rates=2,x"}, "select.rates expects a comma-separated list");
  ExpectConfigError({"select.rates=0"}, "select.rates must hold rates in (0, 1e6]");
  ExpectConfigError({"select.rates=2", "select.seeds=0"}, "select.seeds");
  ExpectConfigError({"select.tolerance=-1"}, "select.tolerance");
  // Validation must never see the evaluation episodes, nor the training ones above 2^32.
  ExpectConfigError({"select.rates=2", "select.seed_base=1000003"}, "overlap the evaluation seeds");
  ExpectConfigError({"select.rates=2", "select.seed_base=1000002", "select.seeds=2", "eval.seeds=1",
                     "train.eval_seeds=5"},
                    "overlap the evaluation seeds");
  ExpectConfigError({"select.rates=2", "select.seed_base=4294967295"}, "below 2^32");
  ExpectConfigError({"select.margins=1,y"}, "select.margins expects a comma-separated list");
  ExpectConfigError({"select.margins=-1"}, "select.margins must hold margins in [0, 1000]");
  ExpectConfigError({"select.margins=0,2"}, "need a sac.prior (greedy-qos or planner");
}

}  // namespace
}  // namespace qosroute
