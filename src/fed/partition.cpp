// Partitions of a dataset over K clients (IID, the FedAvg paper's shards, Dirichlet label skew): the
// indices of the SampleView each client trains on. Only our own RNG is used, so a seed gives the
// same partition on every platform.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>

#include "base/rng.h"
#include "edgetrain/error.h"
#include "edgetrain/fed.h"

namespace edgetrain::fed {
namespace {

// Independent streams from one user seed, one per purpose.
constexpr uint64_t kPartitionSalt = 0x70617274'6974696full;  // "partitio"

double uniform_double(Rng& rng) {  // in (0, 1): never 0, so log() is finite
  return (double(rng.next() >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

double standard_normal(Rng& rng) {  // Box-Muller
  const double u = uniform_double(rng), v = uniform_double(rng);
  return std::sqrt(-2.0 * std::log(u)) * std::cos(6.283185307179586 * v);
}

// Gamma(shape, 1) by Marsaglia and Tsang (2000); shape < 1 through Gamma(shape + 1) * U^(1/shape).
double gamma_sample(double shape, Rng& rng) {
  if (shape < 1.0) {
    const double boosted = gamma_sample(shape + 1.0, rng);
    return boosted * std::pow(uniform_double(rng), 1.0 / shape);
  }
  const double d = shape - 1.0 / 3.0, c = 1.0 / std::sqrt(9.0 * d);
  while (true) {
    double x, v;
    do {
      x = standard_normal(rng);
      v = 1.0 + c * x;
    } while (v <= 0.0);
    v = v * v * v;
    const double u = uniform_double(rng);
    if (std::log(u) < 0.5 * x * x + d - d * v + d * std::log(v)) return d * v;
  }
}

std::vector<std::vector<uint32_t>> iid(size_t samples, int clients, Rng& rng) {
  std::vector<uint32_t> order(samples);
  std::iota(order.begin(), order.end(), 0u);
  shuffle(order, rng);
  std::vector<std::vector<uint32_t>> parts(static_cast<size_t>(clients));
  for (size_t k = 0; k < parts.size(); ++k) {
    const size_t begin = samples * k / parts.size(), end = samples * (k + 1) / parts.size();
    parts[k].assign(order.begin() + long(begin), order.begin() + long(end));
  }
  return parts;
}

// Sorted by label (ties by index), cut into clients x per_client shards of (nearly) equal size,
// the shards shuffled and dealt per_client at a time.
std::vector<std::vector<uint32_t>> shards(const BatchProvider& data, int clients, int per_client,
                                          Rng& rng) {
  const size_t samples = data.count();
  std::vector<uint32_t> sorted(samples);
  std::iota(sorted.begin(), sorted.end(), 0u);
  std::vector<int32_t> labels(samples);
  for (size_t i = 0; i < samples; ++i) labels[i] = data.label(i);
  std::stable_sort(sorted.begin(), sorted.end(),
                   [&](uint32_t a, uint32_t b) { return labels[a] < labels[b]; });
  const size_t shard_count = size_t(clients) * size_t(per_client);
  std::vector<uint32_t> shard_order(shard_count);
  std::iota(shard_order.begin(), shard_order.end(), 0u);
  shuffle(shard_order, rng);
  std::vector<std::vector<uint32_t>> parts(static_cast<size_t>(clients));
  for (size_t s = 0; s < shard_count; ++s) {
    const size_t shard = shard_order[s];
    const size_t begin = samples * shard / shard_count, end = samples * (shard + 1) / shard_count;
    std::vector<uint32_t>& part = parts[s / size_t(per_client)];
    part.insert(part.end(), sorted.begin() + long(begin), sorted.begin() + long(end));
  }
  return parts;
}

// Each class, in label order, is shuffled and cut among the clients in proportions drawn from a
// symmetric Dirichlet(alpha) (normalised Gamma(alpha) draws).
std::vector<std::vector<uint32_t>> dirichlet(const BatchProvider& data, int clients, double alpha,
                                             Rng& rng) {
  std::vector<std::vector<uint32_t>> by_class;
  for (size_t i = 0; i < data.count(); ++i) {
    const int32_t label = data.label(i);
    if (label < 0 || label > 1 << 20) {
      throw Error("partition: sample " + std::to_string(i) + " has label " + std::to_string(label) +
                  "; a Dirichlet partition needs class indices");
    }
    if (size_t(label) >= by_class.size()) by_class.resize(size_t(label) + 1);
    by_class[size_t(label)].push_back(uint32_t(i));
  }
  std::vector<std::vector<uint32_t>> parts(static_cast<size_t>(clients));
  std::vector<double> proportions(static_cast<size_t>(clients));
  for (std::vector<uint32_t>& members : by_class) {
    shuffle(members, rng);
    double total = 0;
    for (double& p : proportions) total += (p = gamma_sample(alpha, rng));
    double cumulative = 0;
    size_t begin = 0;
    for (size_t k = 0; k < parts.size(); ++k) {
      cumulative += proportions[k];
      const size_t end =
          k + 1 == parts.size()
              ? members.size()
              : std::min(members.size(),
                         size_t(std::llround(cumulative / total * double(members.size()))));
      if (end > begin) {
        parts[k].insert(parts[k].end(), members.begin() + long(begin), members.begin() + long(end));
        begin = end;
      }
    }
  }
  return parts;
}

}  // namespace

PartitionScheme parse_partition_scheme(const std::string& text) {
  const size_t colon = text.find(':');
  const std::string name = text.substr(0, colon);
  const std::string argument = colon == std::string::npos ? "" : text.substr(colon + 1);
  auto number = [&](const char* what) {
    size_t used = 0;
    double value = 0;
    try {
      value = std::stod(argument, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (argument.empty() || used != argument.size() || !(value > 0) || !std::isfinite(value)) {
      throw Error("partition kind '" + text + "': " + what + " must be a positive number");
    }
    return value;
  };
  PartitionScheme scheme;
  if (name == "iid" && argument.empty() && colon == std::string::npos) {
    scheme.kind = PartitionKind::kIid;
  } else if (name == "shards") {
    scheme.kind = PartitionKind::kShards;
    if (colon != std::string::npos) {
      const double per_client = number("the shards per client");
      if (per_client != std::floor(per_client) || per_client > 1000) {
        throw Error("partition kind '" + text +
                    "': shards per client must be a whole number up to 1000");
      }
      scheme.shards_per_client = int(per_client);
    }
  } else if (name == "dirichlet") {
    scheme.kind = PartitionKind::kDirichlet;
    scheme.alpha = number("alpha");
  } else {
    throw Error("partition kind '" + text + "' is not iid, shards[:N] or dirichlet:ALPHA");
  }
  return scheme;
}

std::string to_string(const PartitionScheme& scheme) {
  switch (scheme.kind) {
    case PartitionKind::kIid:
      return "iid";
    case PartitionKind::kShards:
      return "shards:" + std::to_string(scheme.shards_per_client);
    case PartitionKind::kDirichlet: {
      char text[48];
      std::snprintf(text, sizeof text, "dirichlet:%g", scheme.alpha);
      return text;
    }
  }
  return "?";
}

std::vector<std::vector<uint32_t>> partition(const BatchProvider& data, int clients,
                                             const PartitionScheme& scheme, uint64_t seed) {
  if (clients < 1)
    throw Error("partition: the client count must be positive, got " + std::to_string(clients));
  if (data.count() > UINT32_MAX) throw Error("partition: more than 2^32 samples");
  if (size_t(clients) > data.count()) {
    throw Error("partition: " + std::to_string(clients) + " clients but only " +
                std::to_string(data.count()) + " samples");
  }
  Rng rng(seed ^ kPartitionSalt);
  switch (scheme.kind) {
    case PartitionKind::kIid:
      return iid(data.count(), clients, rng);
    case PartitionKind::kShards:
      if (size_t(clients) * size_t(scheme.shards_per_client) > data.count()) {
        throw Error("partition: " + std::to_string(clients) + " clients x " +
                    std::to_string(scheme.shards_per_client) + " shards is more shards than the " +
                    std::to_string(data.count()) + " samples");
      }
      return shards(data, clients, scheme.shards_per_client, rng);
    case PartitionKind::kDirichlet:
      return dirichlet(data, clients, scheme.alpha, rng);
  }
  throw Error("partition: unknown kind");
}

std::vector<size_t> client_indices(const std::vector<uint32_t>& part) {
  return {part.begin(), part.end()};
}

}  // namespace edgetrain::fed
