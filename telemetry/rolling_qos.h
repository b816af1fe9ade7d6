#pragma once
// The rolling QoS of a training run: average QoS over the requests resolved (completed or
// dropped) since the last progress line, summed over every environment. Episodes of
// thousands of requests over many environments may not finish for a whole run, so the QoS of
// finished episodes alone says nothing for most of it.
//
// Callers add, around every environment step, the change of the environment's credited QoS
// and of its resolved-request count (ClusterEnv::CreditedQos, CountRequests), so that no
// per-environment baseline is needed and episode resets lose nothing.
#include <optional>

namespace qosroute {

class RollingQos {
 public:
  void Add(double qos, long resolved) {
    qos_ += qos;
    resolved_ += resolved;
  }
  // The average since the last Clear, or nothing while no request was resolved.
  std::optional<double> Value() const {
    if (resolved_ <= 0) return std::nullopt;
    return qos_ / static_cast<double>(resolved_);
  }
  long resolved() const { return resolved_; }
  double qos() const { return qos_; }
  void Clear() {
    qos_ = 0.0;
    resolved_ = 0;
  }
  // Checkpoints carry the open interval, so that a resumed run's next row is the same.
  void Set(double qos, long resolved) {
    qos_ = qos;
    resolved_ = resolved;
  }

 private:
  double qos_ = 0.0;
  long resolved_ = 0;
};

}  // namespace qosroute
