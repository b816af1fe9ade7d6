#include "checkpoint/inspect.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <sstream>

#include "checkpoint/hdf5_file.h"
#include "common/error.h"

namespace qosroute {
namespace {

// The checkpoint format's name and version, repeated here so that this file needs no torch
// header; checkpoint_test checks they agree with checkpoint.h.
constexpr char kFormat[] = "qosroute-checkpoint";

const char* OnOff(int64_t flag) {
  return flag != 0 ? "on" : "off";
}

struct PartSize {
  int datasets = 0;
  uint64_t values = 0;
  uint64_t memory_bytes = 0;
  uint64_t stored_bytes = 0;
};

// Which part a dataset belongs to: /agent and /ranks/<r> are split one level further, so
// that parameters, optimizer state, the replay and the simulators are counted apart.
std::string PartOf(const std::string& dataset) {
  std::vector<std::string> parts;
  std::string part;
  std::istringstream in(dataset);
  while (std::getline(in, part, '/')) {
    if (!part.empty()) parts.push_back(part);
  }
  size_t depth = 1;
  if (parts[0] == "agent") depth = 2;
  if (parts[0] == "ranks") depth = 3;
  depth = std::min(depth, parts.size());
  std::string out;
  for (size_t i = 0; i < depth; ++i) out += "/" + parts[i];
  return out;
}

long CountRows(const std::string& csv) {
  long lines = 0;
  for (char c : csv) lines += c == '\n';
  return lines > 0 ? lines - 1 : 0;  // minus the header
}

// The architecture line and the agent's counters.
std::string DescribeArchitecture(const h5::Reader& r) {
  std::string out;
  const std::string a = "/architecture";
  auto list = [&](const char* name) {
    const std::vector<int64_t> values = r.IntsAttribute(a, name);
    return h5::FormatDims(h5::Dims(values.begin(), values.end()));
  };
  // The observation's feature groups; checkpoints from before the schema record the switches
  // of the groups that existed then.
  const std::string features =
      r.HasAttribute(a, "observation_schema")
          ? "feature groups " + r.StringAttribute(a, "observation_schema")
          : fmt::format(
                "optional expert features: lookahead {}, lookahead value {}, expert score prior "
                "{}, aggregates {}",
                OnOff(r.IntAttribute(a, "lookahead_features")),
                OnOff(r.IntAttribute(a, "lookahead_value")),
                OnOff(r.IntAttribute(a, "expert_score_prior")),
                OnOff(r.IntAttributeOr(a, "expert_aggregates", 0)));
  out += fmt::format(
      "architecture: {} encoder, hidden {}, heads {}, layers {}, semantic hidden {}, mlp_hidden "
      "{}{}, {} experts, {} running and {} waiting slots; {}; prior policy {}\n",
      r.StringAttribute(a, "encoder"), r.IntAttribute(a, "hidden"), r.IntAttribute(a, "heads"),
      r.IntAttribute(a, "layers"), r.IntAttribute(a, "semantic_hidden"), list("mlp_hidden"),
      r.IntAttribute(a, "dueling") != 0 ? ", dueling critics" : "",
      r.IntAttribute(a, "num_experts"), r.IntAttribute(a, "max_running"),
      r.IntAttribute(a, "max_waiting"), features, r.StringAttribute(a, "prior"));
  out += fmt::format("agent: {} updates, temperature log_alpha and its Adam state included\n",
                     r.IntAttribute("/agent", "num_updates"));
  return out;
}

// One line per rank: what it holds (environments, a replay shard or buffer).
std::string DescribeRanks(const h5::Reader& r) {
  std::string out;
  const bool distributed = r.IntAttribute("/", "ranks") > 1;
  if (distributed) {
    out += fmt::format("distributed run: {} learner(s), {} replay shard rank(s)\n",
                       r.IntAttribute("/", "learners"), r.IntAttribute("/", "replay_shards"));
  }
  // Ranks in numeric order (the group names sort as text).
  std::vector<std::string> ranks = r.Children("/ranks");
  std::sort(ranks.begin(), ranks.end(),
            [](const std::string& a, const std::string& b) { return std::stol(a) < std::stol(b); });
  for (const std::string& rank : ranks) {
    const std::string g = "/ranks/" + rank;
    std::string line = fmt::format("rank {} ({}):", rank, r.StringAttribute(g, "role"));
    const std::vector<std::string> members = r.Children(g);
    auto has = [&](const char* name) {
      return std::find(members.begin(), members.end(), name) != members.end();
    };
    if (has("actor")) {
      const std::string a = g + "/actor";
      line += fmt::format(" {} envs, {} episodes started", r.IntAttribute(a, "num_envs"),
                          r.IntAttribute(a, "episodes_started"));
      if (distributed) {
        line += fmt::format(", {} frames, {} transitions sent{}", r.IntAttribute(a, "frames"),
                            r.IntAttribute(a, "transitions_sent"),
                            r.IntAttribute(a, "finished") ? ", finished" : "");
      }
    }
    if (has("replay")) {
      const std::string p = g + "/replay";
      if (distributed) {
        line += fmt::format(
            " replay shard {}: {} of {} transitions, {} inserted, {} sampled, {} waiting for the "
            "rate limiter",
            r.IntAttribute(p, "shard"), r.IntAttribute(p, "size"), r.IntAttribute(p, "capacity"),
            r.IntAttribute(p, "limiter_inserts"), r.IntAttribute(p, "limiter_samples"),
            r.IntAttribute(p, "pending_inserts"));
      } else {
        line += fmt::format("; replay {} of {} transitions, cursor {}, {} added",
                            r.IntAttribute(p, "size"), r.IntAttribute(p, "capacity"),
                            r.IntAttribute(p, "cursor"), r.IntAttribute(p, "total_added"));
      }
    }
    if (!has("actor") && !has("replay")) line += " state in /agent and /loop";
    out += line + "\n";
  }
  out +=
      fmt::format("metrics: train.csv {} rows, eval.csv {} rows (headers not counted)\n",
                  CountRows(r.Text("/metrics/train_csv")), CountRows(r.Text("/metrics/eval_csv")));

  return out;
}

// A table of the file's parts: datasets, values, bytes in memory and on disk.
std::string DescribeParts(const h5::Reader& r) {
  std::string out;
  std::map<std::string, PartSize> parts;
  PartSize total;
  for (const std::string& dataset : r.DatasetsBelow("/")) {
    PartSize& p = parts[PartOf(dataset)];
    h5::Dims dims = r.Shape(dataset);
    uint64_t values = 1;
    for (uint64_t d : dims) values *= d;
    const uint64_t memory = r.LogicalBytes(dataset);
    const uint64_t stored = r.StoredBytes(dataset);
    for (PartSize* s : {&p, &total}) {
      s->datasets += 1;
      s->values += values;
      s->memory_bytes += memory;
      s->stored_bytes += stored;
    }
  }
  out += fmt::format("\n{:<28} {:>9} {:>14} {:>16} {:>16}\n", "part", "datasets", "values", "bytes",
                     "bytes stored");
  auto row = [&](const std::string& name, const PartSize& p) {
    out += fmt::format("{:<28} {:>9} {:>14} {:>16} {:>16}\n", name, p.datasets, p.values,
                       p.memory_bytes, p.stored_bytes);
  };
  for (const auto& [name, p] : parts) row(name, p);
  row("total", total);
  return out;
}

}  // namespace

std::string DescribeCheckpoint(const std::string& path, bool include_config) {
  const h5::Reader r(path, "checkpoint " + path);
  const std::string format = r.StringAttribute("/", "format");
  if (format != kFormat) {
    throw UserError("checkpoint " + path + " has format '" + format + "' where '" + kFormat +
                    "' is expected");
  }
  std::error_code ec;
  const auto file_bytes = std::filesystem::file_size(path, ec);
  std::string out = fmt::format("checkpoint {} ({} bytes)\n", path, ec ? 0 : file_bytes);
  out += fmt::format("format {} version {}, {} rank(s)\n", format,
                     r.IntAttribute("/", "format_version"), r.IntAttribute("/", "ranks"));
  out += fmt::format("counters: frames {}, updates {}, episodes {}, weight version {}, seed {}\n",
                     r.IntAttribute("/counters", "frames"), r.IntAttribute("/counters", "updates"),
                     r.IntAttribute("/counters", "episodes"),
                     r.IntAttribute("/counters", "weight_version"),
                     r.IntAttribute("/counters", "seed"));
  out += DescribeArchitecture(r);
  out += DescribeRanks(r);
  out += DescribeParts(r);
  if (include_config) out += "\nconfig:\n" + r.Text("/config");
  return out;
}

}  // namespace qosroute
