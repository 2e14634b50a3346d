// K virtual clients in one process. A client is its index list (from the partition) and a seed per
// round; a pool of workers trains the sampled clients a wave at a time, each worker on its own
// model copy, and the updates are added to the average in ascending client order after each wave,
// so the result does not depend on the number of workers.
#include <chrono>

#include "base/thread_pool.h"
#include "edgetrain/error.h"
#include "edgetrain/fed.h"
#include "edgetrain/inference.h"

namespace edgetrain::fed {
namespace {

void check(const SimulationSettings& s) {
  if (s.clients < 1) throw Error("simulation: --clients must be at least 1");
  if (s.rounds < 1) throw Error("simulation: --rounds must be at least 1");
  clients_per_round(s.clients, s.fraction);  // throws on a fraction outside (0, 1]
  if (s.target_accuracy < 0 || s.target_accuracy > 1) {
    throw Error("simulation: the target accuracy must be in [0, 1]");
  }
}

struct ClientOutcome {
  bool trained = false;
  Tensors parameters;
  LocalResult result;
};

}  // namespace

std::vector<RoundReport> simulate(
    Model& model, const BatchProvider& train, const BatchProvider* test,
    const SimulationSettings& settings,
    const std::function<bool(const RoundReport&, const Model&)>& on_round) {
  check(settings);
  const std::vector<std::vector<uint32_t>> clients =
      partition(train, settings.clients, settings.partition, settings.seed);
  const Shapes shapes = exchanged_shapes(model);
  uint64_t exchanged_bytes = 0;
  for (const std::vector<int64_t>& shape : shapes) exchanged_bytes += npy_size(shape);

  ThreadPool pool(settings.workers);
  const size_t workers = size_t(pool.size());
  std::vector<Model> working(workers, model);  // each worker's buffers, reused every round
  std::vector<ClientOutcome> outcomes(workers);

  std::vector<RoundReport> reports;
  for (int64_t round = 1; round <= settings.rounds; ++round) {
    const auto started = std::chrono::steady_clock::now();
    RoundReport report;
    report.round = round;
    const std::vector<int> sampled =
        sample_clients(settings.clients, settings.fraction, round, settings.seed);
    const Tensors global = exchanged_parameters(model);
    FederatedAverage average(shapes);
    double loss_sum = 0;
    for (size_t wave = 0; wave < sampled.size(); wave += workers) {
      pool.run([&](int t) {
        ClientOutcome& outcome = outcomes[size_t(t)];
        outcome.trained = false;
        const size_t position = wave + size_t(t);
        if (position >= sampled.size()) return;
        const int client = sampled[position];
        if (clients[size_t(client)].empty()) return;  // a Dirichlet client can hold no data
        Model& local_model = working[size_t(t)];
        set_exchanged_parameters(local_model, global);
        LocalTraining local = settings.local;
        local.seed = local_training_seed(settings.seed, round, client);
        const SampleView data(train, client_indices(clients[size_t(client)]));
        outcome.result = train_locally(local_model, data, local);
        outcome.parameters = exchanged_parameters(local_model);
        outcome.trained = true;
      });
      // Outside the pool's tasks, as a server adds them: ascending client order, the same bits.
      for (size_t t = 0; t < workers && wave + t < sampled.size(); ++t) {
        const ClientOutcome& outcome = outcomes[t];
        if (!outcome.trained) continue;
        average.add(outcome.parameters, outcome.result.num_examples);
        loss_sum += outcome.result.loss * double(outcome.result.num_examples);
        report.clients.push_back(sampled[wave + t]);
      }
    }
    if (average.updates() > 0) {
      set_exchanged_parameters(model, average.result());
      report.examples = average.total_examples();
      report.train_loss = loss_sum / double(report.examples);
    }
    report.bytes = 2 * exchanged_bytes * report.clients.size();
    if (test != nullptr && test->count() > 0) {
      const Evaluation evaluation = evaluate(model, *test, int(workers));
      report.test_loss = evaluation.loss;
      report.test_accuracy = evaluation.accuracy;
    }
    report.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    reports.push_back(report);
    const bool reached =
        settings.target_accuracy > 0 && report.test_accuracy >= settings.target_accuracy;
    if (on_round && !on_round(report, model)) break;
    if (settings.stop_at_target && reached) break;
  }
  return reports;
}

}  // namespace edgetrain::fed
