#include "env/expert_server.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "common/rng.h"
#include "env/metrics.h"

namespace qosroute {
namespace {

ExpertConfig TinyExpert(int num_blocks, double watermark = 0.0) {
  ExpertConfig c;
  c.name = "tiny";
  c.num_blocks = num_blocks;
  c.watermark = watermark;
  c.c0 = 0.01;
  c.k1 = 1e-3;
  c.k2 = 1e-4;
  return c;
}

ActiveRequest MakeRequest(int id, double arrival, int prompt, int output) {
  ActiveRequest r;
  r.id = id;
  r.arrival = arrival;
  r.prompt_tokens = prompt;
  r.output_tokens = output;
  r.score = 0.5f;
  r.pred_output_tokens = output;
  return r;
}

TEST(ExpertServer, IterationTimesAndLatencyMatchHandComputation) {
  ExpertServer server(0, TinyExpert(100));
  server.Enqueue(MakeRequest(0, 0.0, 20, 3), 0.0);
  std::vector<Completion> done;
  server.Drain(&done);
  ASSERT_EQ(done.size(), 1u);
  // prefill 0.01 + 20e-3 = 0.03 (produces token 1); decode over 21 context tokens 0.0121;
  // decode over 22: 0.0122. Finish = 0.0543; latency per token = 0.0543 / 3.
  EXPECT_NEAR(done[0].finish, 0.0543, 1e-12);
  EXPECT_NEAR(done[0].latency_per_token(), 0.0543 / 3, 1e-12);
  EXPECT_EQ(server.iterations(), 3);
  EXPECT_EQ(server.blocks_used(), 0);
}

TEST(ExpertServer, TimeToFirstTokenIsTheEndOfTheFirstPrefill) {
  ExpertConfig config = TinyExpert(100);
  config.max_num_batched_tokens = 25;  // A's and B's prompts (10 + 20) need two prefills
  ExpertServer server(0, config);
  server.Enqueue(MakeRequest(0, 0.0, 10, 3), 0.0);  // A
  server.Enqueue(MakeRequest(1, 0.0, 20, 1), 0.0);  // B: one output token, the prefill's
  std::vector<Completion> done;
  server.Drain(&done);
  ASSERT_EQ(done.size(), 2u);
  const Completion& b = done[0].id == 1 ? done[0] : done[1];
  const Completion& a = done[0].id == 0 ? done[0] : done[1];
  // A's prefill: 0.01 + 10e-3 = 0.02. B waits for it, then its own: 0.02 + 0.01 + 20e-3.
  EXPECT_NEAR(a.ttft(), 0.02, 1e-12);
  EXPECT_NEAR(b.ttft(), 0.05, 1e-12);
  EXPECT_NEAR(b.finish, 0.05, 1e-12);  // its only token came with the prefill
  // A: two decodes after B's prefill, over 11 and 12 context tokens.
  EXPECT_NEAR(a.finish, 0.05 + 0.0111 + 0.0112, 1e-12);
  // The metrics report them: mean (0.02 + 0.05) / 2.
  MetricsAccumulator metrics;
  for (const Completion& c : done) metrics.AddCompletion(c, 1.0);
  const EpisodeMetrics m = metrics.Finish(2, 0.5, a.finish, {});
  EXPECT_NEAR(m.ttft_mean, 0.035, 1e-12);
  EXPECT_NEAR(m.ttft_p95, 0.02 + 0.95 * 0.03, 1e-12);
}

TEST(ExpertServer, AdmitsWaitingRequestsInArrivalOrder) {
  ExpertConfig config = TinyExpert(100);
  config.max_num_batched_tokens = 64;  // two 30-token prompts per prefill iteration
  ExpertServer server(0, config);
  for (int i = 0; i < 5; ++i) server.Enqueue(MakeRequest(i, 0.0, 30, 50), 0.0);
  std::vector<Completion> done;
  ASSERT_TRUE(server.RunIteration(&done));
  ASSERT_EQ(server.running().size(), 2u);
  EXPECT_EQ(server.running()[0].id, 0);
  EXPECT_EQ(server.running()[1].id, 1);
  ASSERT_TRUE(server.RunIteration(&done));
  ASSERT_EQ(server.running().size(), 4u);
  EXPECT_EQ(server.running()[2].id, 2);
  EXPECT_EQ(server.running()[3].id, 3);
  EXPECT_EQ(server.waiting().front().id, 4);
}

TEST(ExpertServer, PreemptsNewestRunningRequestWhenBlocksRunOut) {
  // 10 blocks of 16 tokens. Three requests of 30 prompt + 60 output tokens each need 2 blocks
  // at admission and 6 at the end: the cache runs out during decode.
  ExpertServer server(0, TinyExpert(10));
  for (int i = 0; i < 3; ++i) server.Enqueue(MakeRequest(i, 0.0, 30, 60), 0.0);
  std::vector<Completion> done;
  int first_victim = -1;
  while (server.RunIteration(&done)) {
    ASSERT_LE(server.blocks_used(), server.num_blocks());
    ASSERT_GE(server.blocks_used(), 0);
    if (first_victim < 0 && server.preemptions() > 0) first_victim = server.waiting().front().id;
  }
  EXPECT_GT(server.preemptions(), 0);
  EXPECT_EQ(first_victim, 2);  // the most recently admitted request
  ASSERT_EQ(done.size(), 3u);
  for (const Completion& c : done) {
    EXPECT_FALSE(c.rejected);
    EXPECT_EQ(c.output_tokens, 60);
    // One prefill of all three (0.01 + 90e-3) gave each its first token; the victim's
    // recompute gives it no second "first" token.
    EXPECT_NEAR(c.ttft(), 0.1, 1e-12);
  }
  // The preempted request finishes last: it had to recompute.
  EXPECT_EQ(std::max_element(done.begin(), done.end(),
                             [](auto& a, auto& b) { return a.finish < b.finish; })
                ->id,
            2);
}

TEST(ExpertServer, KvBlocksStayWithinCapacityUnderRandomLoad) {
  for (uint64_t seed = 0; seed < 20; ++seed) {
    Rng rng(seed);
    ExpertServer server(0, TinyExpert(12 + static_cast<int>(rng.Below(40)), 0.01));
    std::vector<Completion> done;
    double t = 0.0;
    int enqueued = 0;
    for (int i = 0; i < 200; ++i) {
      t += rng.Exponential(20.0);
      server.AdvanceTo(t, &done);
      ASSERT_LE(server.blocks_used(), server.num_blocks());
      ASSERT_GE(server.blocks_used(), 0);
      server.Enqueue(MakeRequest(i, t, 1 + static_cast<int>(rng.Below(100)),
                                 1 + static_cast<int>(rng.Below(127))),
                     t);
      ++enqueued;
    }
    while (server.RunIteration(&done)) {
      ASSERT_LE(server.blocks_used(), server.num_blocks());
      ASSERT_GE(server.blocks_used(), 0);
    }
    EXPECT_EQ(static_cast<int>(done.size()), enqueued);
    EXPECT_EQ(server.blocks_used(), 0);
  }
}

TEST(ExpertServer, RejectsARequestThatCanNeverFit) {
  ExpertServer server(0, TinyExpert(4));  // 64 tokens in all
  server.Enqueue(MakeRequest(0, 0.0, 100, 5), 0.0);
  server.Enqueue(MakeRequest(1, 0.0, 10, 5), 0.0);
  std::vector<Completion> done;
  server.Drain(&done);
  ASSERT_EQ(done.size(), 2u);
  EXPECT_TRUE(done[0].rejected);
  EXPECT_EQ(done[0].id, 0);
  EXPECT_FALSE(done[1].rejected);
}

TEST(ExpertServer, RejectsANeverFittingRequestOnAnIdleEngineWithoutAborting) {
  ExpertConfig config = TinyExpert(400);
  config.max_num_batched_tokens = 2048;
  ExpertServer server(0, config);
  server.Enqueue(MakeRequest(0, 0.0, 3000, 5), 0.0);  // longer than the token budget
  std::vector<Completion> done;
  server.AdvanceTo(1.0, &done);
  ASSERT_EQ(done.size(), 1u);
  EXPECT_TRUE(done[0].rejected);
  server.Enqueue(MakeRequest(1, 1.0, 3000, 5), 1.0);
  server.Enqueue(MakeRequest(2, 1.0, 20, 5), 1.0);
  server.Drain(&done);
  ASSERT_EQ(done.size(), 3u);
  EXPECT_TRUE(done[1].rejected);
  EXPECT_FALSE(done[2].rejected);
}

TEST(ExpertServer, SnapshotRestoresQueuesAndContinuesIdentically) {
  ExpertServer a(0, TinyExpert(10));
  for (int i = 0; i < 4; ++i) a.Enqueue(MakeRequest(i, 0.0, 30, 40 + i), 0.0);
  std::vector<Completion> done_a, done_b;
  for (int i = 0; i < 25; ++i) a.RunIteration(&done_a);
  ByteWriter out;
  a.Save(&out);
  ExpertServer b(0, TinyExpert(10));
  ByteReader in(out.bytes());
  b.Load(&in);
  done_a.clear();
  a.Drain(&done_a);
  b.Drain(&done_b);
  ASSERT_EQ(done_a.size(), done_b.size());
  for (size_t i = 0; i < done_a.size(); ++i) {
    EXPECT_EQ(done_a[i].id, done_b[i].id);
    EXPECT_EQ(done_a[i].finish, done_b[i].finish);
  }
}

}  // namespace
}  // namespace qosroute
