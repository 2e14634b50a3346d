"""edgetrain from Python: a thin ctypes binding of the C API (libedgetrain_c.so, see
include/edgetrain/edgetrain_c.h), with numpy arrays in and out.

    import numpy as np
    import edgetrain

    model = edgetrain.Model.load("model.mlmodel")
    data = edgetrain.Data.from_labels(features, labels)  # (N, input_size) float32, (N,) int32
    result = model.train(data, epochs=2, progress=lambda p: print(p["event"], p["loss"]))
    probabilities = model.predict(features[:5])            # (5, output_size)
    weights = model.get_parameters()                       # what a federated client sends
    model.save("trained.mlmodel")

Errors raise edgetrain.EdgetrainError with the library's message. The library is looked for in
$EDGETRAIN_LIBRARY, then where the installed package put it, then on the loader's path.
"""

import ctypes
import ctypes.util
import os

import numpy as np

__all__ = ["EdgetrainError", "Model", "Data", "Task", "precision_supported", "version"]

# Filled in by CMake when the module is installed: the library's path relative to this file.
_LIBRARY_FROM_MODULE = "@EDGETRAIN_PYTHON_TO_LIBRARY@"


def _find_library():
    candidates = []
    if os.environ.get("EDGETRAIN_LIBRARY"):
        candidates.append(os.environ["EDGETRAIN_LIBRARY"])
    if not _LIBRARY_FROM_MODULE.startswith("@"):
        here = os.path.dirname(os.path.abspath(__file__))
        candidates.append(os.path.normpath(os.path.join(here, _LIBRARY_FROM_MODULE)))
    found = ctypes.util.find_library("edgetrain_c")
    if found:
        candidates.append(found)
    for candidate in candidates:
        if os.sep not in candidate or os.path.exists(candidate):
            return ctypes.CDLL(candidate)
    raise OSError("libedgetrain_c.so not found (looked in: %s); set EDGETRAIN_LIBRARY to its path"
                  % (", ".join(candidates) or "the loader's path"))


_lib = _find_library()

_OK = 0
_STATUS_NAMES = {1: "invalid argument", 2: "error", 3: "out of memory", 4: "internal error"}
_EVENT_NAMES = {0: "batch_end", 1: "epoch_end"}
_MAX_RANK = 4
_size_t = ctypes.c_size_t
_float_p = ctypes.POINTER(ctypes.c_float)


class EdgetrainError(Exception):
    """A failed call: `status` is the C API's code, the message says what is wrong."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.kind = _STATUS_NAMES.get(status, "status %d" % status)


class _Progress(ctypes.Structure):
    _fields_ = [("event", ctypes.c_int), ("epoch", ctypes.c_int64), ("batch", ctypes.c_int64),
                ("batches_per_epoch", ctypes.c_int64), ("loss", ctypes.c_double),
                ("accuracy", ctypes.c_double), ("samples_done", ctypes.c_uint64),
                ("elapsed_seconds", ctypes.c_double)]


_ProgressFn = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(_Progress), ctypes.c_void_p)


class _TrainOptions(ctypes.Structure):
    _fields_ = [("epochs", ctypes.c_int64), ("batch_size", ctypes.c_int64),
                ("learning_rate", ctypes.c_double), ("shuffle", ctypes.c_int),
                ("seed", ctypes.c_int64), ("threads", ctypes.c_int), ("progress", _ProgressFn),
                ("user_data", ctypes.c_void_p)]


class _TrainResult(ctypes.Structure):
    _fields_ = [("epochs_completed", ctypes.c_int64), ("cancelled", ctypes.c_int),
                ("final_loss", ctypes.c_double), ("final_accuracy", ctypes.c_double),
                ("seconds", ctypes.c_double), ("samples_seen", ctypes.c_uint64)]


class _Evaluation(ctypes.Structure):
    _fields_ = [("samples", ctypes.c_uint64), ("loss", ctypes.c_double),
                ("accuracy", ctypes.c_double)]


class _TensorInfo(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("rank", _size_t),
                ("shape", ctypes.c_int64 * _MAX_RANK), ("size", _size_t), ("offset", _size_t)]


def _declare(name, argtypes, restype=ctypes.c_int):
    function = getattr(_lib, name)
    function.argtypes = argtypes
    function.restype = restype
    return function


_p = ctypes.c_void_p
_pp = ctypes.POINTER(ctypes.c_void_p)
_last_error = _declare("edgetrain_last_error", [], ctypes.c_char_p)
_version_string = _declare("edgetrain_version_string", [], ctypes.c_char_p)
_free = _declare("edgetrain_free", [_p], None)
_model_load = _declare("edgetrain_model_load", [ctypes.c_char_p, _pp])
_model_from_json = _declare("edgetrain_model_from_json", [ctypes.c_char_p, _pp])
_model_from_bytes = _declare("edgetrain_model_from_bytes", [ctypes.c_char_p, _size_t, _pp])
_model_save = _declare("edgetrain_model_save", [_p, ctypes.c_char_p])
_model_to_json = _declare("edgetrain_model_to_json", [_p, _pp])
_model_to_bytes = _declare("edgetrain_model_to_bytes", [_p, _pp, ctypes.POINTER(_size_t)])
_model_free = _declare("edgetrain_model_free", [_p], None)
_model_input_size = _declare("edgetrain_model_input_size", [_p, ctypes.POINTER(_size_t)])
_model_output_size = _declare("edgetrain_model_output_size", [_p, ctypes.POINTER(_size_t)])
_model_initialize = _declare("edgetrain_model_initialize", [_p, ctypes.c_uint64])
_model_tensor_count = _declare("edgetrain_model_tensor_count", [_p, ctypes.POINTER(_size_t)])
_model_tensor = _declare("edgetrain_model_tensor", [_p, _size_t, ctypes.POINTER(_TensorInfo)])
_model_parameter_count = _declare("edgetrain_model_parameter_count",
                                  [_p, ctypes.POINTER(_size_t)])
_model_get_parameters = _declare("edgetrain_model_get_parameters", [_p, _float_p, _size_t])
_model_set_parameters = _declare("edgetrain_model_set_parameters", [_p, _float_p, _size_t])
_data_from_labels = _declare("edgetrain_data_from_labels",
                             [_float_p, ctypes.POINTER(ctypes.c_int32), _size_t, _size_t, _pp])
_data_from_targets = _declare("edgetrain_data_from_targets",
                              [_float_p, _float_p, _size_t, _size_t, _size_t, _pp])
_data_read_idx = _declare("edgetrain_data_read_idx", [ctypes.c_char_p, ctypes.c_char_p, _pp])
_data_read_csv = _declare("edgetrain_data_read_csv",
                          [ctypes.c_char_p, ctypes.c_int, ctypes.c_int, ctypes.c_int, _pp])
_data_count = _declare("edgetrain_data_count", [_p, ctypes.POINTER(_size_t)])
_data_feature_size = _declare("edgetrain_data_feature_size", [_p, ctypes.POINTER(_size_t)])
_data_free = _declare("edgetrain_data_free", [_p], None)
_train_options_init = _declare("edgetrain_train_options_init", [ctypes.POINTER(_TrainOptions)],
                               None)
_task_create_with_precision = _declare("edgetrain_task_create_with_precision",
                                      [_p, _p, ctypes.POINTER(_TrainOptions), ctypes.c_char_p, _pp])
_precision_supported = _declare("edgetrain_precision_supported", [ctypes.c_char_p])
_task_run = _declare("edgetrain_task_run", [_p, ctypes.POINTER(_TrainResult)])
_task_cancel = _declare("edgetrain_task_cancel", [_p], None)
_task_free = _declare("edgetrain_task_free", [_p], None)
_evaluate = _declare("edgetrain_evaluate", [_p, _p, ctypes.c_int, ctypes.POINTER(_Evaluation)])
_predict = _declare("edgetrain_predict", [_p, _float_p, _size_t, _float_p, _size_t])
_set_predict_threads = _declare("edgetrain_model_set_predict_threads", [_p, ctypes.c_int])


def _check(status):
    if status != _OK:
        raise EdgetrainError(status, _last_error().decode("utf-8", "replace"))


def _path(path):
    return os.fsencode(path)


def _size(function, handle):
    value = _size_t()
    _check(function(handle, ctypes.byref(value)))
    return value.value


def _floats(array, what):
    """A C-contiguous float32 copy (or the array itself when it already is one)."""
    array = np.ascontiguousarray(array, dtype=np.float32)
    if array.size == 0:
        raise ValueError("%s is empty" % what)
    return array


def version():
    """The library's version, "major.minor.patch"."""
    return _version_string().decode()


def precision_supported(precision):
    """True where this build and CPU can train with `precision` ("float32": always; "bf16": on a
    CPU with AVX512-BF16)."""
    return _precision_supported(precision.encode("utf-8")) == 1


class Model:
    """A Core ML neural network; see edgetrain_c.h for what each method does."""

    def __init__(self, handle):
        self._handle = ctypes.c_void_p(handle)

    @classmethod
    def load(cls, path):
        """Reads a .mlmodel (or its .json text form)."""
        handle = ctypes.c_void_p()
        _check(_model_load(_path(path), ctypes.byref(handle)))
        return cls(handle.value)

    @classmethod
    def from_json(cls, text):
        """Creates a model from the JSON text form of a .mlmodel."""
        handle = ctypes.c_void_p()
        _check(_model_from_json(text.encode("utf-8"), ctypes.byref(handle)))
        return cls(handle.value)

    @classmethod
    def from_bytes(cls, data):
        """Creates a model from the bytes of a .mlmodel file."""
        handle = ctypes.c_void_p()
        _check(_model_from_bytes(bytes(data), len(data), ctypes.byref(handle)))
        return cls(handle.value)

    def close(self):
        """Releases the model now rather than when it is garbage-collected."""
        if self._handle:
            _model_free(self._handle)
            self._handle = ctypes.c_void_p()

    def __del__(self):
        self.close()

    def __enter__(self):
        return self

    def __exit__(self, *exception):
        self.close()

    def save(self, path):
        """Writes a .mlmodel, or the JSON text form for a path ending in .json (atomically)."""
        _check(_model_save(self._handle, _path(path)))

    def to_json(self):
        text = ctypes.c_void_p()
        _check(_model_to_json(self._handle, ctypes.byref(text)))
        try:
            return ctypes.string_at(text).decode("utf-8")
        finally:
            _free(text)

    def to_bytes(self):
        data, size = ctypes.c_void_p(), _size_t()
        _check(_model_to_bytes(self._handle, ctypes.byref(data), ctypes.byref(size)))
        try:
            return ctypes.string_at(data, size.value)
        finally:
            _free(data)

    @property
    def input_size(self):
        return _size(_model_input_size, self._handle)

    @property
    def output_size(self):
        return _size(_model_output_size, self._handle)

    def initialize(self, seed):
        """Fresh Glorot-uniform weights and zero biases from a seed."""
        _check(_model_initialize(self._handle, seed))

    def tensors(self):
        """The updatable tensors: a list of dicts with name, shape, offset and size."""
        result = []
        for index in range(_size(_model_tensor_count, self._handle)):
            info = _TensorInfo()
            _check(_model_tensor(self._handle, index, ctypes.byref(info)))
            result.append({"name": info.name.decode(), "shape": tuple(info.shape[:info.rank]),
                           "offset": info.offset, "size": info.size})
        return result

    @property
    def parameter_count(self):
        return _size(_model_parameter_count, self._handle)

    def get_parameters(self):
        """The updatable weights and biases as one float32 array (layer order, weight first)."""
        values = np.empty(self.parameter_count, dtype=np.float32)
        _check(_model_get_parameters(self._handle, values.ctypes.data_as(_float_p), values.size))
        return values

    def set_parameters(self, values):
        """Replaces the updatable parameters (a flat array as get_parameters gives)."""
        values = np.ascontiguousarray(values, dtype=np.float32).reshape(-1)
        _check(_model_set_parameters(self._handle, values.ctypes.data_as(_float_p), values.size))

    def predict(self, features, threads=None):
        """Outputs for one sample (input_size values) or a batch (N, input_size): (N, output_size).
        threads: how many threads share each sample, kept for later calls (default 1; 0: every
        core); the outputs are the same bit for bit."""
        if threads is not None:
            _check(_set_predict_threads(self._handle, threads))
        features = _floats(features, "features")
        input_size, output_size = self.input_size, self.output_size
        if features.size % input_size:
            raise ValueError("features has %d values, not a multiple of the input size %d"
                             % (features.size, input_size))
        count = features.size // input_size
        outputs = np.empty((count, output_size), dtype=np.float32)
        _check(_predict(self._handle, features.ctypes.data_as(_float_p), count,
                        outputs.ctypes.data_as(_float_p), outputs.size))
        return outputs

    def evaluate(self, data, threads=0):
        """Mean loss and accuracy (NaN for mean squared error) over a Data set."""
        result = _Evaluation()
        _check(_evaluate(self._handle, data._handle, threads, ctypes.byref(result)))
        return {"samples": result.samples, "loss": result.loss, "accuracy": result.accuracy}

    def task(self, data, **options):
        """A training run to start later (Task.run) and cancel from any thread (Task.cancel)."""
        return Task(self, data, **options)

    def train(self, data, **options):
        """Trains the updatable layers in place; see Task for the options. Returns the result."""
        task = Task(self, data, **options)
        try:
            return task.run()
        finally:
            task.close()


class Data:
    """Samples to train or evaluate on."""

    def __init__(self, handle):
        self._handle = ctypes.c_void_p(handle)

    @classmethod
    def from_labels(cls, features, labels):
        """features (N, ...) floats, labels (N,) class indices; both are copied."""
        features = _floats(features, "features")
        labels = np.ascontiguousarray(labels, dtype=np.int32).reshape(-1)
        count = labels.size
        if count == 0 or features.size % count:
            raise ValueError("%d feature values do not split into %d samples"
                             % (features.size, count))
        handle = ctypes.c_void_p()
        _check(_data_from_labels(features.ctypes.data_as(_float_p),
                                 labels.ctypes.data_as(ctypes.POINTER(ctypes.c_int32)), count,
                                 features.size // count, ctypes.byref(handle)))
        return cls(handle.value)

    @classmethod
    def from_targets(cls, features, targets):
        """features (N, ...) floats, targets (N, ...) floats for mean squared error; copied."""
        features = _floats(features, "features")
        targets = _floats(targets, "targets")
        count = len(targets) if targets.ndim > 1 else targets.size
        if features.size % count or targets.size % count:
            raise ValueError("features and targets do not split into %d samples" % count)
        handle = ctypes.c_void_p()
        _check(_data_from_targets(features.ctypes.data_as(_float_p),
                                  targets.ctypes.data_as(_float_p), count, features.size // count,
                                  targets.size // count, ctypes.byref(handle)))
        return cls(handle.value)

    @classmethod
    def read_idx(cls, folder, split):
        """MNIST-layout IDX files in a folder; split is "train" or "t10k"."""
        handle = ctypes.c_void_p()
        _check(_data_read_idx(_path(folder), split.encode(), ctypes.byref(handle)))
        return cls(handle.value)

    @classmethod
    def read_csv(cls, path, height=28, width=28, num_classes=10):
        """The seed's CSV images: label then height*width pixels 0-255 per line."""
        handle = ctypes.c_void_p()
        _check(_data_read_csv(_path(path), height, width, num_classes, ctypes.byref(handle)))
        return cls(handle.value)

    def __len__(self):
        return _size(_data_count, self._handle)

    @property
    def feature_size(self):
        return _size(_data_feature_size, self._handle)

    def close(self):
        if self._handle:
            _data_free(self._handle)
            self._handle = ctypes.c_void_p()

    def __del__(self):
        self.close()


class Task:
    """A training run. Options (None keeps the model's default): epochs, batch_size, learning_rate,
    shuffle (bool), seed, threads (0: every core), precision ("float32", or "bf16" where
    precision_supported("bf16")) and progress, a function called with a dict
    (event "batch_end" or "epoch_end", epoch, batch, batches_per_epoch, loss, accuracy,
    samples_done, elapsed_seconds) that returns True to stop training."""

    def __init__(self, model, data, epochs=None, batch_size=None, learning_rate=None,
                 shuffle=None, seed=None, threads=0, precision="float32", progress=None):
        self._handle = ctypes.c_void_p()
        # The C task uses both until it is freed: keep them alive as long as it.
        self._model, self._data = model, data
        self._callback_error = None
        options = _TrainOptions()
        _train_options_init(ctypes.byref(options))
        if epochs is not None:
            options.epochs = epochs
        if batch_size is not None:
            options.batch_size = batch_size
        if learning_rate is not None:
            options.learning_rate = learning_rate
        if shuffle is not None:
            options.shuffle = 1 if shuffle else 0
        if seed is not None:
            options.seed = seed
        options.threads = threads
        self._callback = _ProgressFn(self._report) if progress else _ProgressFn()
        self._progress = progress
        options.progress = self._callback
        if not isinstance(precision, str):
            raise TypeError(f"precision is {precision!r}: a name, 'float32' or 'bf16'")
        handle = ctypes.c_void_p()
        _check(_task_create_with_precision(model._handle, data._handle, ctypes.byref(options),
                                           precision.encode("utf-8"), ctypes.byref(handle)))
        self._handle = handle

    def _report(self, progress, user_data):
        p = progress.contents
        report = {"event": _EVENT_NAMES.get(p.event, p.event), "epoch": p.epoch,
                  "batch": p.batch, "batches_per_epoch": p.batches_per_epoch, "loss": p.loss,
                  "accuracy": p.accuracy, "samples_done": p.samples_done,
                  "elapsed_seconds": p.elapsed_seconds}
        try:
            return 1 if self._progress(report) else 0
        except BaseException as error:  # raised again by run(); never unwinds through C
            self._callback_error = error
            return 1

    def run(self):
        """Trains; returns a dict: epochs_completed, cancelled, final_loss, final_accuracy,
        seconds, samples_seen. The GIL is released meanwhile, so cancel() works from a thread."""
        result = _TrainResult()
        _check(_task_run(self._handle, ctypes.byref(result)))
        if self._callback_error is not None:
            raise self._callback_error
        return {"epochs_completed": result.epochs_completed,
                "cancelled": bool(result.cancelled), "final_loss": result.final_loss,
                "final_accuracy": result.final_accuracy, "seconds": result.seconds,
                "samples_seen": result.samples_seen}

    def cancel(self):
        """Stops the run after its current mini-batch (from any thread)."""
        _task_cancel(self._handle)

    def close(self):
        if getattr(self, "_handle", None):
            _task_free(self._handle)
            self._handle = ctypes.c_void_p()

    def __del__(self):
        self.close()
