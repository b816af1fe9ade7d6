// ClusterEnv's complete byte snapshot (SaveState, LoadState); see cluster_env.h.
#include <string>

#include "common/error.h"
#include "env/cluster_env.h"
#include "env/request_codec.h"

namespace qosroute {

namespace {

constexpr uint32_t kStateMagic = 0x51525345;  // "QRSE"
// Version 2 adds the energy accounting (ExpertServer, MetricsAccumulator); version 1 still
// loads, with energy counted from the restore on. Version 3 writes queued requests and
// completions field by field (env/request_codec.h) instead of as raw struct bytes. Version 4
// adds the first-token time of requests and completions and the metrics' TTFTs.
constexpr uint32_t kStateVersion = kExpertStateVersion;

}  // namespace

std::vector<uint8_t> ClusterEnv::SaveState() const {
  ByteWriter out;
  out.Put(kStateMagic);
  out.Put(kStateVersion);
  out.Put<int32_t>(static_cast<int32_t>(experts_.size()));
  // A fork with a replaced future saves the requests it runs on, as one episode.
  // (An env never reset has no episode: it saves an empty one.)
  std::shared_ptr<const EpisodeData> episode = EffectiveEpisode();
  if (!episode) episode = std::make_shared<const EpisodeData>();
  out.PutVector(episode->arrivals);
  out.PutVector(episode->prompt_tokens);
  out.PutVector(episode->true_output);
  out.PutVector(episode->true_score);
  out.PutVector(episode->pred_output);
  out.PutVector(episode->pred_score);
  out.Put(episode->upper_bound_sum);
  for (const ExpertServer& e : experts_) e.Save(&out);
  PutCompletions(&out, pending_);
  metrics_.Save(&out);
  out.Put(step_);
  out.Put(now_);
  out.Put(done_);
  out.Put(end_time_);
  return out.Take();
}

void ClusterEnv::LoadState(const std::vector<uint8_t>& bytes) {
  current_potential_.reset();
  ByteReader in(bytes);
  if (in.Get<uint32_t>() != kStateMagic)
    throw UserError("state snapshot is not a cluster environment state");
  const uint32_t version = in.Get<uint32_t>();
  if (version < 1 || version > kStateVersion) {
    throw UserError("cluster state snapshot has format version " + std::to_string(version) +
                    ", this build reads version " + std::to_string(kStateVersion));
  }
  const int32_t n = in.Get<int32_t>();
  if (n != static_cast<int32_t>(experts_.size())) {
    throw UserError("cluster state snapshot has " + std::to_string(n) +
                    " experts, the config has " + std::to_string(experts_.size()));
  }
  auto episode = std::make_shared<EpisodeData>();
  episode->num_experts = n;
  episode->arrivals = in.GetVector<double>();
  episode->prompt_tokens = in.GetVector<int>();
  episode->true_output = in.GetVector<int>();
  episode->true_score = in.GetVector<float>();
  episode->pred_output = in.GetVector<int>();
  episode->pred_score = in.GetVector<float>();
  episode->upper_bound_sum = in.Get<double>();
  const size_t requests = episode->arrivals.size(), cells = requests * n;
  if (episode->prompt_tokens.size() != requests || episode->true_output.size() != cells ||
      episode->true_score.size() != cells || episode->pred_output.size() != cells ||
      episode->pred_score.size() != cells) {
    throw UserError("cluster state snapshot has episode arrays of inconsistent sizes");
  }
  episode_ = std::move(episode);
  future_.reset();
  future_from_ = 0;
  for (ExpertServer& e : experts_) e.Load(&in, version);
  pending_ = GetCompletions(&in, version);
  metrics_.Load(&in, version);
  step_ = in.Get<int>();
  now_ = in.Get<double>();
  done_ = in.Get<bool>();
  live_ = false;
  end_time_ = in.Get<double>();
  if (!in.AtEnd()) throw UserError("cluster state snapshot has trailing bytes");
  if (!done_) {
    UpdateArrivedView();
    BuildObservation();
  }
}

}  // namespace qosroute
