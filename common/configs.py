"""Hyperparameters: one frozen dataclass per network.

This is the single source of truth both implementations read, so they cannot drift
apart: `keras_impl/cnn.py` and `tf_impl/cnn.py` both take a `CNNConfig`. The CLI builds
its flags from these fields (`--hidden-units 128`) and may only override them, with
their declared types.
"""
import dataclasses
from dataclasses import dataclass


ACTIVATIONS = ("relu", "tanh", "sigmoid")


class ConfigError(ValueError):
    """A hyperparameter value that cannot work (a negative epoch count, ...)."""


@dataclass(frozen=True)
class TrainConfig:
    """Fields every network has."""

    dataset: str = "digits"  # embedded name, tfds name (mnist, ...) or path/to/file.npz
    epochs: int = 20  # passes over the training split
    batch_size: int = 32  # examples per optimizer step
    learning_rate: float = 1e-3  # step size of the optimizer
    optimizer: str = "adam"  # adam | sgd
    momentum: float = 0.0  # SGD momentum (ignored by adam)
    seed: int = 0  # weights, shuffling and dropout; the data split has its own fixed seed
    validation_fraction: float = 0.1  # of the training data, held out for validation

    def __post_init__(self):
        positive = ("epochs", "batch_size")
        for name in positive:
            if getattr(self, name) < 1:
                raise ConfigError(f"{name.replace('_', '-')} must be at least 1, got {getattr(self, name)}")
        if not self.learning_rate > 0:
            raise ConfigError(f"learning-rate must be positive, got {self.learning_rate}")
        if self.optimizer not in ("adam", "sgd"):
            raise ConfigError(f"optimizer must be 'adam' or 'sgd', got {self.optimizer!r}")
        if not 0.0 <= self.momentum < 1.0:
            raise ConfigError(f"momentum must be in [0, 1), got {self.momentum}")
        if not 0.0 < self.validation_fraction < 0.5:
            raise ConfigError(f"validation-fraction must be in (0, 0.5), got {self.validation_fraction}")
        if self.seed < 0:
            raise ConfigError(f"seed must be >= 0, got {self.seed}")
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if field.name.endswith("dropout") and not 0.0 <= value < 1.0:
                raise ConfigError(f"{field.name.replace('_', '-')} must be in [0, 1), got {value}")
            if field.name == "activation" and value not in ACTIVATIONS:
                raise ConfigError(f"activation must be one of {', '.join(ACTIVATIONS)}, got {value!r}")
            if field.name == "l2" and value < 0:
                raise ConfigError(f"l2 must be >= 0, got {value}")
            if isinstance(value, tuple) and not all(v >= 1 for v in value):
                raise ConfigError(f"{field.name.replace('_', '-')} must hold positive sizes, got {value}")
            if field.name.endswith(("units", "size", "patience")) and isinstance(value, int) and value < 1:
                raise ConfigError(f"{field.name.replace('_', '-')} must be at least 1, got {value}")


@dataclass(frozen=True)
class LogisticRegressionConfig(TrainConfig):
    dataset: str = "breast_cancer"
    epochs: int = 30
    learning_rate: float = 1e-2
    l2: float = 0.0  # L2 penalty on the weights, added to the loss as l2 * sum(w**2)


@dataclass(frozen=True)
class MLPConfig(TrainConfig):
    epochs: int = 30
    hidden_units: int = 64  # width of the single hidden layer
    activation: str = "relu"  # hidden nonlinearity: relu | tanh | sigmoid


@dataclass(frozen=True)
class DeepMLPConfig(TrainConfig):
    epochs: int = 80  # an upper bound: early stopping usually ends training sooner
    hidden_units: tuple[int, ...] = (256, 128, 128, 64, 64)  # five hidden layers
    activation: str = "relu"
    dropout: float = 0.2  # after every hidden layer, training only
    l2: float = 1e-4  # L2 weight decay on every kernel
    patience: int = 8  # epochs without a better validation loss before stopping


@dataclass(frozen=True)
class CNNConfig(TrainConfig):
    epochs: int = 30
    filters: tuple[int, ...] = (32, 64)  # one conv + 2x2 max-pool block per entry
    kernel_size: int = 3  # square kernels, 'same' padding so 8x8 inputs survive pooling
    dense_units: int = 128  # fully connected layer before the classifier
    dropout: float = 0.0  # before the classifier, training only


# --- recurrent networks (rnn, lstm, gru) ---

# --- generative networks (autoencoder, vae, gan) ---

# --- transfer learning ---
