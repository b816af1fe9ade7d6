#pragma once
// Versioned policy weights as a message (MessageKind::kWeights) from learner 0 to actors:
//   kind, int64 version, uint32 count, then per parameter: name, int32 ndim, int64 dims[ndim],
//   float32 values. Every parameter of SacAgent::NamedParameters travels (LoadParameters
// wants the complete set); at the sizes used here that is well under a megabyte.
#include <cstdint>
#include <vector>

#include "learner/sac.h"

namespace qosroute {

std::vector<uint8_t> EncodeWeights(int64_t version, const SacAgent& agent);
// The version a weights message carries, without decoding the tensors.
int64_t WeightsVersion(const std::vector<uint8_t>& message);
// Loads the message's parameters into *agent; returns the version.
int64_t LoadWeights(const std::vector<uint8_t>& message, SacAgent* agent);

// FNV-1a over every parameter's bytes in NamedParameters order: equal checksums mean
// bitwise-equal agents (for the learners-stay-identical check).
uint64_t ParameterChecksum(const SacAgent& agent);

}  // namespace qosroute
