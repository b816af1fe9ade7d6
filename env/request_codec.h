#pragma once
// The requests inside a cluster state snapshot (ClusterEnv::SaveState): queued requests and
// completions written field by field (their field lists below), never as raw struct bytes, so
// that a struct can change without changing what is on disk. Snapshots of versions 1 and 2
// held raw 48-byte ActiveRequest and 40-byte Completion records; those are decoded by their
// byte offsets.
#include <cstdint>
#include <vector>

#include "common/bytes.h"
#include "env/expert_server.h"

namespace qosroute {

// Every field of a queued request and of a completion, in snapshot order.
// The first state version that writes requests field by field, and the one that adds the
// first-token time.
constexpr uint32_t kFieldwiseRequestsVersion = 3;
constexpr uint32_t kFirstTokenVersion = 4;

// Every field of a queued request and of a completion of snapshot `version`, in order.
template <typename Request, typename Visit>
void VisitActiveRequest(Request& r, Visit&& visit, uint32_t version = kExpertStateVersion) {
  visit(r.id), visit(r.arrival), visit(r.prompt_tokens), visit(r.output_tokens), visit(r.score);
  visit(r.pred_score), visit(r.pred_output_tokens), visit(r.generated), visit(r.blocks);
  visit(r.energy_j);
  if (version >= kFirstTokenVersion) visit(r.first_token);
}

template <typename C, typename Visit>
void VisitCompletion(C& c, Visit&& visit, uint32_t version = kExpertStateVersion) {
  visit(c.id), visit(c.expert), visit(c.arrival), visit(c.finish), visit(c.output_tokens);
  visit(c.score), visit(c.rejected), visit(c.energy_j);
  if (version >= kFirstTokenVersion) visit(c.first_token);
}

// A count, then every record's fields.
template <typename Container, typename VisitFields>
void PutRecords(ByteWriter* out, const Container& records, VisitFields visit) {
  out->Put<uint64_t>(records.size());
  for (const auto& record : records) visit(record, [out](const auto& field) { out->Put(field); });
}

template <typename Container>
void PutRequests(ByteWriter* out, const Container& requests) {
  PutRecords(out, requests, [](const ActiveRequest& r, auto&& f) { VisitActiveRequest(r, f); });
}
std::vector<ActiveRequest> GetRequests(ByteReader* in, uint32_t version);

void PutCompletions(ByteWriter* out, const std::vector<Completion>& completions);
std::vector<Completion> GetCompletions(ByteReader* in, uint32_t version);

}  // namespace qosroute
