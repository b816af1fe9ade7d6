#include "env/toy_env.h"

#include <algorithm>
#include <array>
#include <string>

#include "common/bytes.h"
#include "common/error.h"

namespace qosroute {
namespace {

constexpr uint32_t kStateMagic = 0x544f5931;  // "TOY1"
constexpr double kGoodReward = 1.0;
constexpr double kSteadyReward = 0.5;

}  // namespace

TwoExpertToyEnv::TwoExpertToyEnv(const TwoExpertToyConfig& config) : config_(config) {
  if (config.capacity < 1 || config.decay_period < 1 || config.episode_length < 1 ||
      config.max_running < config.capacity || config.max_waiting < 0) {
    throw UserError(
        "toy environment needs capacity >= 1, decay_period >= 1, episode_length >= 1, "
        "max_running >= capacity and max_waiting >= 0");
  }
  observation_.Resize(2, config.max_running, config.max_waiting);
}

const Observation& TwoExpertToyEnv::Reset(uint64_t seed) {
  rng_.Seed(seed);
  load_ = static_cast<int>(rng_.Below(static_cast<uint64_t>(config_.max_running) + 1));
  step_ = 0;
  done_ = false;
  BuildObservation();
  return observation_;
}

StepResult TwoExpertToyEnv::DoStep(int action) {
  StepResult result;
  if (action == 0) {
    result.reward = load_ < config_.capacity ? kGoodReward : 0.0;
    load_ = std::min(load_ + 1, config_.max_running);
  } else if (action == 1) {
    result.reward = kSteadyReward;
  }
  result.credited = result.reward;
  ++step_;
  if (step_ % config_.decay_period == 0 && load_ > 0) --load_;
  done_ = step_ >= config_.episode_length;
  result.done = done_;
  BuildObservation();
  return result;
}

void TwoExpertToyEnv::BuildObservation() {
  Observation& o = observation_;
  const int r = config_.max_running;
  const int w = config_.max_waiting;
  std::fill(o.running.begin(), o.running.end(), 0.0f);
  std::fill(o.running_mask.begin(), o.running_mask.end(), 0);
  std::fill(o.waiting.begin(), o.waiting.end(), 0.0f);
  std::fill(o.waiting_mask.begin(), o.waiting_mask.end(), 0);

  const float prompt = static_cast<float>(0.05 + 0.45 * rng_.Uniform());
  const float output = static_cast<float>(0.1 + 0.9 * rng_.Uniform());
  o.request = {prompt, 0.75f, output};

  const int waiting = static_cast<int>(rng_.Below(static_cast<uint64_t>(w) + 1));
  float* e0 = o.expert.data();
  float* e1 = o.expert.data() + kExpertFeatures;
  const float load = static_cast<float>(load_);
  const float capacity = static_cast<float>(config_.capacity);
  const float e0_values[kExpertFeatures] = {load / capacity, load / kCountScale, 0.0f, prompt, 1.0f,
                                            output,          0.1f * load};
  const float e1_values[kExpertFeatures] = {
      0.2f, 0.0f, static_cast<float>(waiting) / kCountScale, prompt, 0.5f, output, 0.1f};
  std::copy_n(e0_values, kExpertFeatures, e0);
  std::copy_n(e1_values, kExpertFeatures, e1);

  // Expert 0's running slots: one per unit of load, with noise features.
  for (int s = 0; s < std::min(load_, r); ++s) {
    o.running_mask[s] = 1;
    for (int f = 0; f < kSlotFeatures; ++f) {
      o.running[static_cast<size_t>(s) * kSlotFeatures + f] = static_cast<float>(rng_.Uniform());
    }
  }
  // Expert 1's waiting slots: noise.
  const size_t expert1_waiting = static_cast<size_t>(w);
  for (int s = 0; s < waiting; ++s) {
    o.waiting_mask[expert1_waiting + s] = 1;
    for (int f = 0; f < kSlotFeatures; ++f) {
      o.waiting[(expert1_waiting + s) * kSlotFeatures + f] = static_cast<float>(rng_.Uniform());
    }
  }
  o.action_mask = {1, 1, static_cast<uint8_t>(config_.allow_drop ? 1 : 0)};
}

std::vector<uint8_t> TwoExpertToyEnv::SaveState() const {
  ByteWriter out;
  out.Put(kStateMagic);
  out.Put<int32_t>(config_.capacity);
  out.Put<int32_t>(config_.decay_period);
  out.Put<int32_t>(config_.episode_length);
  out.Put<int32_t>(config_.max_running);
  out.Put<int32_t>(config_.max_waiting);
  out.Put<uint8_t>(config_.allow_drop ? 1 : 0);
  out.Put(rng_.state());
  out.Put<int32_t>(load_);
  out.Put<int32_t>(step_);
  out.Put<uint8_t>(done_ ? 1 : 0);
  // The observation holds noise drawn for the current request, so it is saved, not rebuilt.
  // Three floats, as before the request row became the schema's width (the toy's is 3).
  std::array<float, kRequestFeatures> request{};
  std::copy_n(observation_.request.begin(), kRequestFeatures, request.begin());
  out.Put(request);
  out.PutVector(observation_.expert);
  out.PutVector(observation_.running);
  out.PutVector(observation_.running_mask);
  out.PutVector(observation_.waiting);
  out.PutVector(observation_.waiting_mask);
  out.PutVector(observation_.action_mask);
  return out.Take();
}

void TwoExpertToyEnv::LoadState(const std::vector<uint8_t>& bytes) {
  ByteReader in(bytes);
  if (in.Get<uint32_t>() != kStateMagic)
    throw UserError("state snapshot is not a toy environment's");
  const bool same_config =
      in.Get<int32_t>() == config_.capacity && in.Get<int32_t>() == config_.decay_period &&
      in.Get<int32_t>() == config_.episode_length && in.Get<int32_t>() == config_.max_running &&
      in.Get<int32_t>() == config_.max_waiting && in.Get<uint8_t>() == (config_.allow_drop ? 1 : 0);
  if (!same_config) {
    throw UserError("toy environment state snapshot was saved with a different configuration");
  }
  // Parsed into locals first, so a truncated snapshot leaves this environment unchanged.
  const auto rng_state = in.Get<std::array<uint64_t, 4>>();
  const int load = in.Get<int32_t>();
  const int step = in.Get<int32_t>();
  const bool done = in.Get<uint8_t>() != 0;
  Observation o = observation_;
  const auto request = in.Get<std::array<float, kRequestFeatures>>();
  o.request.assign(request.begin(), request.end());
  o.expert = in.GetVector<float>();
  o.running = in.GetVector<float>();
  o.running_mask = in.GetVector<uint8_t>();
  o.waiting = in.GetVector<float>();
  o.waiting_mask = in.GetVector<uint8_t>();
  o.action_mask = in.GetVector<uint8_t>();
  if (!in.AtEnd() || o.expert.size() != observation_.expert.size() ||
      o.running.size() != observation_.running.size() ||
      o.running_mask.size() != observation_.running_mask.size() ||
      o.waiting.size() != observation_.waiting.size() ||
      o.waiting_mask.size() != observation_.waiting_mask.size() ||
      o.action_mask.size() != observation_.action_mask.size()) {
    throw UserError("toy environment state snapshot has the wrong size");
  }
  rng_.set_state(rng_state);
  load_ = load;
  step_ = step;
  done_ = done;
  observation_ = std::move(o);
}

}  // namespace qosroute
