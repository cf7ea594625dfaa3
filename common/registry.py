"""The registry: every network twinnets knows, and how it is judged.

Tests, the CLI and `twinnets compare` all iterate over NETWORKS, so a network added
here is checked the same way as every other one.
"""
from dataclasses import dataclass

from common import configs


@dataclass(frozen=True)
class NetworkSpec:
    name: str  # module name in keras_impl/ and tf_impl/
    title: str
    config_class: type
    metric: str  # headline test metric, computed by common.evaluate
    higher_is_better: bool
    floor: float  # both implementations must reach this on the default data
    tolerance: float  # largest allowed |mean_keras - mean_tf| over seeds
    inputs: str  # "image" (N,H,W,C) | "table" (N,F) | "any" (flattened when needed)
    reference: str  # the paper or idea
    family: str = "classifier"  # how the parity suite drives it: build(config, input_shape, num_classes) -> logits

    @property
    def default_dataset(self):
        return self.config_class().dataset


NETWORKS = {
    spec.name: spec
    for spec in [
        NetworkSpec(
            name="logistic_regression",
            title="Logistic regression (sigmoid for 2 classes, softmax for more)",
            config_class=configs.LogisticRegressionConfig,
            metric="accuracy",
            higher_is_better=True,
            floor=0.95,
            tolerance=0.02,
            inputs="any",
            reference="Cox 1958; multinomial form: McCullagh & Nelder, Generalized Linear Models",
        ),
        NetworkSpec(
            name="mlp",
            title="Shallow feed-forward network, one hidden layer",
            config_class=configs.MLPConfig,
            metric="accuracy",
            higher_is_better=True,
            floor=0.95,
            tolerance=0.02,
            inputs="any",
            reference="Rumelhart, Hinton & Williams 1986, backpropagation",
        ),
        NetworkSpec(
            name="deep_mlp",
            title="Deep feed-forward network: 5 hidden layers, dropout, L2, early stopping",
            config_class=configs.DeepMLPConfig,
            metric="accuracy",
            higher_is_better=True,
            floor=0.95,
            tolerance=0.02,
            inputs="any",
            reference="Srivastava et al. 2014, dropout",
        ),
        NetworkSpec(
            name="cnn",
            title="Convolutional network, LeNet-style (conv, pool, fully connected)",
            config_class=configs.CNNConfig,
            metric="accuracy",
            higher_is_better=True,
            floor=0.97,
            tolerance=0.02,
            inputs="image",
            reference="LeCun et al. 1998, gradient-based learning applied to document recognition",
        ),
        # --- recurrent networks (rnn, lstm, gru) ---
        # --- generative networks (autoencoder, vae, gan) ---
        # --- transfer learning ---
    ]
}


class UnknownNetworkError(ValueError):
    pass


def get(name):
    try:
        return NETWORKS[name]
    except KeyError:
        raise UnknownNetworkError(
            f"unknown network {name!r}; known networks: {', '.join(NETWORKS)}"
        ) from None
