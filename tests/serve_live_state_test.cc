// serve/live_state: the router's accounting of its calls and of the backends' scrapes, fed
// known event sequences, against queues worked out by hand from the rules in live_state.cc
// (docs/SERVING.md, "What the policy sees").
#include <gtest/gtest.h>

#include "serve/live_state.h"

namespace qosroute {
namespace {

// Decode seconds = 0.01 + 0.001 x context tokens + 0.002 x running requests (k1 = 0 keeps the
// c0 floor), 16 tokens a block, 100 blocks.
std::vector<ExpertConfig> Experts(int n) {
  std::vector<ExpertConfig> experts(n);
  for (int e = 0; e < n; ++e) {
    experts[e].name = "e" + std::to_string(e);
    experts[e].time_model = TimeModelKind::kCalibrated;
    experts[e].c0 = 0.01;
    experts[e].k1 = 0.0;
    experts[e].k2 = 0.001;
    experts[e].k3 = 0.002;
    experts[e].block_size = 16;
    experts[e].num_blocks = 100;
  }
  return experts;
}

ActiveRequest Request(long id, int prompt_tokens) {
  ActiveRequest r;
  r.id = static_cast<int>(id);
  r.arrival = 0.1 * static_cast<double>(id);
  r.prompt_tokens = prompt_tokens;
  r.pred_output_tokens = 50 + static_cast<int>(id);
  r.pred_score = 0.5f;
  return r;
}

VllmLoad Load(std::optional<double> running, std::optional<double> kv_usage) {
  VllmLoad load;
  load.running = running;
  load.kv_usage = kv_usage;
  return load;
}

std::vector<int> Ids(const std::vector<ActiveRequest>& requests) {
  std::vector<int> ids;
  for (const ActiveRequest& r : requests) ids.push_back(r.id);
  return ids;
}

std::vector<int> Generated(const std::vector<ActiveRequest>& requests) {
  std::vector<int> generated;
  for (const ActiveRequest& r : requests) generated.push_back(r.generated);
  return generated;
}

struct Picture {
  std::vector<ClusterEnv::LiveExpert> live;
  std::vector<uint8_t> available;
  bool any = false;
};

Picture Look(const LiveState& state) {
  Picture p;
  p.any = state.Queues(&p.live, &p.available);
  return p;
}

const std::string kToken = "data: {\"choices\":[{\"text\":\"x\"}]}\n\n";

TEST(LiveStateTest, StreamedCallWaitsUntilWrittenBeforeAnIterationBoundary) {
  LiveState state(Experts(1));
  state.Admit(0, 0, Request(0, 10), true);
  state.Admit(1, 0, Request(1, 20), true);
  Picture p = Look(state);
  ASSERT_EQ(p.live.size(), 1u);
  EXPECT_TRUE(Ids(p.live[0].running).empty());
  EXPECT_EQ(Ids(p.live[0].waiting), (std::vector<int>{0, 1}));
  EXPECT_DOUBLE_EQ(p.live[0].busy_until, 0.0);  // no token seen from the backend yet

  // Call 1's first token at 1.0: it runs. Call 0 is not written yet: it waits.
  state.Written(1, 0.5);
  state.Piece(1, kToken, 1.0);
  p = Look(state);
  EXPECT_EQ(Ids(p.live[0].running), (std::vector<int>{1}));
  EXPECT_EQ(Ids(p.live[0].waiting), (std::vector<int>{0}));
  // One token counted, one more for the iteration in progress.
  EXPECT_EQ(Generated(p.live[0].running), (std::vector<int>{2}));
  // 1.0 + 0.01 + 0.001 x (20 + 2) + 0.002 x 1.
  EXPECT_NEAR(p.live[0].busy_until, 1.034, 1e-12);

  // Written at 1.5, after the backend's last boundary (1.0): still waiting.
  state.Written(0, 1.5);
  p = Look(state);
  EXPECT_EQ(Ids(p.live[0].waiting), (std::vector<int>{0}));

  // A boundary at 2.0 (call 1's next token): call 0 is in its prefill, running with the
  // iteration's token, and call 1 has two tokens plus one.
  state.Piece(1, kToken, 2.0);
  p = Look(state);
  EXPECT_EQ(Ids(p.live[0].running), (std::vector<int>{0, 1}));
  EXPECT_TRUE(p.live[0].waiting.empty());
  EXPECT_EQ(Generated(p.live[0].running), (std::vector<int>{1, 3}));
  // 2.0 + 0.01 + 0.001 x (11 + 23) + 0.002 x 2.
  EXPECT_NEAR(p.live[0].busy_until, 2.048, 1e-12);

  // Its own first token.
  state.Piece(0, kToken, 2.5);
  p = Look(state);
  EXPECT_EQ(Generated(p.live[0].running), (std::vector<int>{2, 3}));
  // The rest of the request is kept as admitted.
  EXPECT_EQ(p.live[0].running[0].prompt_tokens, 10);
  EXPECT_EQ(p.live[0].running[0].pred_output_tokens, 50);
  EXPECT_EQ(p.live[0].running[1].pred_output_tokens, 51);
}

TEST(LiveStateTest, ABoundaryOnlyCountsForItsOwnBackend) {
  LiveState state(Experts(2));
  state.Admit(0, 0, Request(0, 10), true);
  state.Admit(1, 1, Request(1, 10), true);
  state.Admit(2, 0, Request(2, 10), true);
  state.Written(0, 1.0);
  state.Written(1, 1.0);
  state.Written(2, 1.5);
  state.Piece(0, kToken, 2.0);  // backend 0's boundary, after all three were written
  const Picture p = Look(state);
  EXPECT_EQ(Ids(p.live[0].running), (std::vector<int>{0, 2}));
  EXPECT_TRUE(p.live[1].running.empty());
  EXPECT_EQ(Ids(p.live[1].waiting), (std::vector<int>{1}));
  EXPECT_DOUBLE_EQ(p.live[1].busy_until, 0.0);
}

TEST(LiveStateTest, ServerSentEventsAreCountedOnceAcrossPiecesAndDoneIsNot) {
  LiveState state(Experts(1));
  state.Admit(0, 0, Request(0, 10), true);
  state.Written(0, 0.5);
  // Two events in one piece, the marker of a third split over three pieces, then [DONE].
  state.Piece(0, "data: {\"a\":1}\n\ndata: {\"a\":2}\n\nda", 1.0);
  state.Piece(0, "ta", 1.1);
  state.Piece(0, ": {\"a\":3}\n\ndata: [DONE]\n\n", 1.2);
  Picture p = Look(state);
  ASSERT_EQ(p.live[0].running.size(), 1u);
  EXPECT_EQ(p.live[0].running[0].generated, 3 + 1);
  // The marker split right before its space, and a piece with no event at all.
  state.Piece(0, "data:", 1.3);
  state.Piece(0, " {\"a\":4}\n\n", 1.4);
  state.Piece(0, ": keep-alive\n\n", 1.5);
  p = Look(state);
  EXPECT_EQ(p.live[0].running[0].generated, 4 + 1);
  // Every piece is a boundary, with or without an event: 1.5 + 0.01 + 0.001 x 15 + 0.002.
  EXPECT_NEAR(p.live[0].busy_until, 1.527, 1e-12);
}

TEST(LiveStateTest, WholeAnswerCallsFillTheReportedRunningSlotsOldestFirst) {
  LiveState state(Experts(1));
  state.Admit(0, 0, Request(0, 10), false);
  state.Admit(1, 0, Request(1, 20), false);
  state.Written(0, 0.5);
  state.Written(1, 0.6);
  // No scrape yet: nothing is known to run.
  Picture p = Look(state);
  EXPECT_TRUE(p.live[0].running.empty());
  EXPECT_EQ(Ids(p.live[0].waiting), (std::vector<int>{0, 1}));

  state.Scraped(0, Load(1.0, std::nullopt));
  p = Look(state);
  EXPECT_EQ(Ids(p.live[0].running), (std::vector<int>{0}));
  EXPECT_EQ(Ids(p.live[0].waiting), (std::vector<int>{1}));
  EXPECT_EQ(Generated(p.live[0].running), (std::vector<int>{0}));  // no progress shown
  EXPECT_DOUBLE_EQ(p.live[0].busy_until, 0.0);  // no token ever seen from the backend

  // A streamed call running takes one of the reported slots: with 2 reported, one is left for
  // the whole-answer calls (the oldest), and the iteration's end counts both running.
  state.Admit(2, 0, Request(2, 30), true);
  state.Written(2, 0.7);
  state.Piece(2, kToken, 3.0);
  state.Scraped(0, Load(2.0, std::nullopt));
  p = Look(state);
  EXPECT_EQ(Ids(p.live[0].running), (std::vector<int>{0, 2}));
  EXPECT_EQ(Ids(p.live[0].waiting), (std::vector<int>{1}));
  EXPECT_EQ(Generated(p.live[0].running), (std::vector<int>{0, 2}));
  // 3.0 + 0.01 + 0.001 x (10 + 32) + 0.002 x 2.
  EXPECT_NEAR(p.live[0].busy_until, 3.056, 1e-12);

  // With 1 reported, the streamed call has it: both whole-answer calls wait.
  state.Scraped(0, Load(1.0, std::nullopt));
  p = Look(state);
  EXPECT_EQ(Ids(p.live[0].running), (std::vector<int>{2}));
  EXPECT_EQ(Ids(p.live[0].waiting), (std::vector<int>{0, 1}));
}

TEST(LiveStateTest, OtherBlocksAreTheReportedBeyondThisRoutersWrittenCalls) {
  LiveState state(Experts(2));
  state.Admit(0, 0, Request(0, 31), true);
  state.Written(0, 0.5);
  state.Piece(0, kToken + kToken, 1.0);     // 33 tokens: 3 blocks of 16
  state.Admit(1, 0, Request(1, 40), true);  // not written: not counted
  state.Admit(2, 1, Request(2, 64), true);  // another backend's
  state.Written(2, 0.5);
  state.Scraped(0, Load(std::nullopt, 0.1));  // 10 of 100 blocks reported
  Picture p = Look(state);
  EXPECT_EQ(p.live[0].other_blocks, 10 - 3);
  EXPECT_EQ(p.live[1].other_blocks, 0);
  EXPECT_DOUBLE_EQ(*state.load(0).kv_usage, 0.1);

  // Fewer reported than the router's own: none from others.
  state.Scraped(0, Load(std::nullopt, 0.02));
  EXPECT_EQ(Look(state).live[0].other_blocks, 0);
  state.Scraped(0, Load(std::nullopt, 0.5));
  EXPECT_EQ(Look(state).live[0].other_blocks, 50 - 3);
  // A scrape without KV usage forgets the last one.
  state.Scraped(0, Load(3.0, std::nullopt));
  EXPECT_EQ(Look(state).live[0].other_blocks, 0);

  // Backend 1: 12 reported, 4 blocks of call 2.
  state.Scraped(1, Load(std::nullopt, 0.12));
  p = Look(state);
  EXPECT_EQ(p.live[1].other_blocks, 12 - 4);
  // Marked down, its load is forgotten.
  EXPECT_TRUE(state.MarkDown(1));
  p = Look(state);
  EXPECT_EQ(p.live[1].other_blocks, 0);
  EXPECT_FALSE(state.load(1).kv_usage.has_value());
}

TEST(LiveStateTest, AnEndedCallDisappearsAndItsLaterEventsAreIgnored) {
  LiveState state(Experts(1));
  state.Admit(0, 0, Request(0, 10), true);
  state.Admit(1, 0, Request(1, 20), true);
  state.Written(0, 1.0);
  state.Written(1, 4.0);
  EXPECT_EQ(state.num_calls(), 2u);
  EXPECT_DOUBLE_EQ(state.written(0), 1.0);
  state.End(0);
  EXPECT_EQ(state.num_calls(), 1u);
  EXPECT_DOUBLE_EQ(state.written(0), -1.0);
  EXPECT_EQ(state.InFlight(), (std::vector<long>{1}));
  // A piece of the ended call: no token counted and no boundary for call 1 (written at 4.0).
  state.Piece(0, kToken, 5.0);
  const Picture p = Look(state);
  EXPECT_TRUE(p.live[0].running.empty());
  EXPECT_EQ(Ids(p.live[0].waiting), (std::vector<int>{1}));
  EXPECT_DOUBLE_EQ(p.live[0].busy_until, 0.0);
}

TEST(LiveStateTest, AnUnhealthyBackendIsUnavailable) {
  LiveState state(Experts(2));
  Picture p = Look(state);
  EXPECT_TRUE(p.any);
  EXPECT_EQ(p.available, (std::vector<uint8_t>{1, 1}));
  EXPECT_TRUE(state.MarkDown(1));
  EXPECT_FALSE(state.MarkDown(1));  // already down
  p = Look(state);
  EXPECT_TRUE(p.any);
  EXPECT_EQ(p.available, (std::vector<uint8_t>{1, 0}));
  EXPECT_FALSE(state.healthy(1));
  state.MarkDown(0);
  p = Look(state);
  EXPECT_FALSE(p.any);
  EXPECT_EQ(p.available, (std::vector<uint8_t>{0, 0}));
  state.MarkUp(1);
  p = Look(state);
  EXPECT_TRUE(p.any);
  EXPECT_EQ(p.available, (std::vector<uint8_t>{0, 1}));
}

TEST(LiveStateTest, TheFallbackIsTheAvailableBackendWithTheFewestCalls) {
  LiveState state(Experts(3));
  state.Admit(0, 0, Request(0, 10), false);
  state.Admit(1, 0, Request(1, 10), true);
  state.Admit(2, 1, Request(2, 10), false);
  EXPECT_EQ(state.InFlight(), (std::vector<long>{2, 1, 0}));
  EXPECT_EQ(state.LeastLoaded({1, 1, 1}), 2);
  EXPECT_EQ(state.LeastLoaded({1, 1, 0}), 1);
  EXPECT_EQ(state.LeastLoaded({1, 0, 0}), 0);
  EXPECT_EQ(state.LeastLoaded({0, 0, 0}), -1);
  // Equals: the lowest index.
  state.Admit(3, 2, Request(3, 10), true);
  EXPECT_EQ(state.LeastLoaded({1, 1, 1}), 1);
  state.End(2);
  EXPECT_EQ(state.LeastLoaded({1, 1, 1}), 1);
  EXPECT_EQ(state.LeastLoaded({1, 0, 1}), 2);
}

}  // namespace
}  // namespace qosroute
