"""The Python binding (python/edgetrain.py over libedgetrain_c.so) with numpy arrays: run by CTest
with Debian's /usr/bin/python3 and python3-numpy, EDGETRAIN_LIBRARY pointing at the built library."""

import os
import tempfile
import threading
import unittest

import numpy as np

import edgetrain

SOURCE = os.environ.get("EDGETRAIN_SOURCE_DIR",
                        os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))


def fixture(name):
    with open(os.path.join(SOURCE, "tests", "fixtures", name)) as file:
        return edgetrain.Model.from_json(file.read())


def three_classes(count=96, seed=1):
    """Class k has feature k near 1; feature 3 is noise."""
    rng = np.random.default_rng(seed)
    labels = np.arange(count, dtype=np.int32) % 3
    features = rng.uniform(-0.1, 0.1, size=(count, 4)).astype(np.float32)
    features[np.arange(count), labels] += 1.0
    return features, labels


class BindingTest(unittest.TestCase):
    def test_version(self):
        self.assertRegex(edgetrain.version(), r"^\d+\.\d+\.\d+$")

    def test_train_evaluate_predict(self):
        model = fixture("tiny_classifier.json")
        self.assertEqual((model.input_size, model.output_size), (4, 3))
        features, labels = three_classes()
        data = edgetrain.Data.from_labels(features, labels)
        self.assertEqual((len(data), data.feature_size), (96, 4))
        before = model.evaluate(data, threads=1)

        events = []
        result = model.train(data, epochs=30, seed=7, threads=1, progress=events.append)
        self.assertEqual(result["epochs_completed"], 30)
        self.assertFalse(result["cancelled"])
        batch_events = [e for e in events if e["event"] == "batch_end"]
        epoch_events = [e for e in events if e["event"] == "epoch_end"]
        self.assertEqual((len(batch_events), len(epoch_events)), (30 * 12, 30))
        self.assertEqual([e["epoch"] for e in epoch_events], list(range(30)))
        self.assertLess(epoch_events[-1]["loss"], epoch_events[0]["loss"] / 2)
        self.assertGreaterEqual(result["final_accuracy"], 0.95)

        after = model.evaluate(data)
        self.assertLess(after["loss"], before["loss"] / 2)
        self.assertGreaterEqual(after["accuracy"], 0.95)

        probabilities = model.predict(features)
        self.assertEqual(probabilities.shape, (96, 3))
        np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
        self.assertGreaterEqual((probabilities.argmax(axis=1) == labels).mean(), 0.95)
        one = model.predict(features[5])  # a single sample
        np.testing.assert_array_equal(one, probabilities[5:6])
        # Threads sharing each sample (kept for later calls) change no bit; negative is refused.
        np.testing.assert_array_equal(model.predict(features, threads=2), probabilities)
        np.testing.assert_array_equal(model.predict(features), probabilities)
        with self.assertRaisesRegex(edgetrain.EdgetrainError, "threads is -1"):
            model.predict(features, threads=-1)

    def test_parameters_round_trip(self):
        model = fixture("tiny_classifier.json")
        tensors = model.tensors()
        self.assertEqual([t["name"] for t in tensors],
                         ["hidden.weights", "hidden.bias", "dense.weights", "dense.bias"])
        self.assertEqual([t["shape"] for t in tensors], [(8, 4), (8,), (3, 8), (3,)])
        self.assertEqual(model.parameter_count, 67)
        values = model.get_parameters()
        self.assertEqual((values.dtype, values.shape), (np.float32, (67,)))

        # What a federated round does: another model takes these weights and predicts the same.
        other = fixture("tiny_classifier.json")
        other.initialize(99)
        features, _ = three_classes(8)
        self.assertFalse(np.array_equal(other.predict(features), model.predict(features)))
        other.set_parameters(values)
        np.testing.assert_array_equal(other.predict(features), model.predict(features))

        with self.assertRaises(edgetrain.EdgetrainError) as error:
            other.set_parameters(values[:-1])
        self.assertEqual(error.exception.kind, "invalid argument")
        bad = values.copy()
        bad[3] = np.inf
        with self.assertRaisesRegex(edgetrain.EdgetrainError, r"hidden\.weights\[3\]"):
            other.set_parameters(bad)
        np.testing.assert_array_equal(other.get_parameters(), values)

    def test_save_load_bytes_json(self):
        model = fixture("tiny_classifier.json")
        features, _ = three_classes(16)
        expected = model.predict(features)
        with tempfile.TemporaryDirectory() as folder:
            for name in ("m.mlmodel", "m.json"):
                path = os.path.join(folder, name)
                model.save(path)
                np.testing.assert_array_equal(edgetrain.Model.load(path).predict(features),
                                              expected)
        np.testing.assert_array_equal(
            edgetrain.Model.from_bytes(model.to_bytes()).predict(features), expected)
        np.testing.assert_array_equal(
            edgetrain.Model.from_json(model.to_json()).predict(features), expected)

    def test_regression(self):
        model = fixture("tiny_regressor.json")
        rng = np.random.default_rng(3)
        x = rng.uniform(-1, 1, size=(128, 2)).astype(np.float32)
        y = (0.8 * x[:, 0] - 0.5 * x[:, 1] + 0.1).reshape(-1, 1)
        data = edgetrain.Data.from_targets(x, y)
        before = model.evaluate(data)
        self.assertTrue(np.isnan(before["accuracy"]))
        result = model.train(data, epochs=100, seed=3, threads=1)
        self.assertTrue(np.isnan(result["final_accuracy"]))
        after = model.evaluate(data)
        self.assertLess(after["loss"], before["loss"] / 10)
        self.assertLess(np.abs(model.predict(x) - y).max(), 0.3)

    def test_cancel_from_callback_and_from_another_thread(self):
        model = fixture("tiny_classifier.json")
        data = edgetrain.Data.from_labels(*three_classes())
        seen = []

        def stop_at_third(progress):
            seen.append(progress["batch"])
            return len(seen) == 3

        result = model.train(data, threads=1, progress=stop_at_third)
        self.assertTrue(result["cancelled"])
        self.assertEqual((seen, result["samples_seen"]), ([0, 1, 2], 24))
        self.assertTrue(np.isnan(result["final_loss"]))

        # Another thread cancels while the run waits in its first report: the run then stops
        # after that mini-batch. The report waits for the cancel, so nothing races.
        reported, cancelled = threading.Event(), threading.Event()

        def wait_for_cancel(progress):
            reported.set()
            self.assertTrue(cancelled.wait(timeout=300))

        task = model.task(data, epochs=100, threads=1, progress=wait_for_cancel)

        def cancel():
            reported.wait()
            task.cancel()
            cancelled.set()

        canceller = threading.Thread(target=cancel)
        canceller.start()
        result = task.run()
        canceller.join()
        task.close()
        self.assertTrue(result["cancelled"])
        self.assertEqual((result["epochs_completed"], result["samples_seen"]), (0, 8))

    def test_callback_exception_stops_training_and_is_raised(self):
        model = fixture("tiny_classifier.json")
        data = edgetrain.Data.from_labels(*three_classes())

        def broken(progress):
            raise KeyError("from the callback")

        with self.assertRaises(KeyError):
            model.train(data, threads=1, progress=broken)

    def test_precision(self):
        features, labels = three_classes()
        data = edgetrain.Data.from_labels(features, labels)
        trained = {}
        for precision in ("float32", "bf16"):
            model = fixture("tiny_classifier.json")
            if not edgetrain.precision_supported(precision):
                with self.assertRaisesRegex(edgetrain.EdgetrainError, "AVX512-BF16"):
                    model.train(data, epochs=3, seed=7, threads=1, precision=precision)
                continue
            result = model.train(data, epochs=3, seed=7, threads=1, precision=precision)
            self.assertEqual(result["epochs_completed"], 3)
            trained[precision] = model.get_parameters()
        self.assertTrue(edgetrain.precision_supported("float32"))
        if "bf16" in trained:  # other sums, so other weights
            self.assertFalse(np.array_equal(trained["bf16"], trained["float32"]))
        with self.assertRaisesRegex(edgetrain.EdgetrainError, "fp16"):
            fixture("tiny_classifier.json").train(data, precision="fp16")
        with self.assertRaises(TypeError):
            fixture("tiny_classifier.json").train(data, precision=None)
        self.assertFalse(edgetrain.precision_supported("fp16"))

    def test_errors(self):
        with self.assertRaisesRegex(edgetrain.EdgetrainError, "/nonexistent/model.mlmodel"):
            edgetrain.Model.load("/nonexistent/model.mlmodel")
        with self.assertRaises(edgetrain.EdgetrainError):
            edgetrain.Model.from_json("{ not json")
        model = fixture("tiny_classifier.json")
        features, labels = three_classes()
        labels[4] = 7
        with self.assertRaisesRegex(edgetrain.EdgetrainError, "label 7"):
            model.train(edgetrain.Data.from_labels(features, labels))
        with self.assertRaisesRegex(edgetrain.EdgetrainError, "batch"):
            model.train(edgetrain.Data.from_labels(*three_classes()), batch_size=1000)
        with self.assertRaises(ValueError):
            model.predict(np.zeros(5, dtype=np.float32))

    def test_mnist_files(self):
        folder = os.path.join(SOURCE, "..", "shared", "data", "mnist")
        data = edgetrain.Data.read_idx(folder, "t10k")
        self.assertEqual((len(data), data.feature_size), (10000, 784))


if __name__ == "__main__":
    unittest.main()
