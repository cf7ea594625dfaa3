"""Hyperparameters: one frozen dataclass per network.

This is the single source of truth both implementations read, so they cannot drift
apart: `keras_impl/cnn.py` and `tf_impl/cnn.py` both take a `CNNConfig`. The CLI builds
its flags from these fields (`--hidden-units 128`) and may only override them, with
their declared types.
"""
import dataclasses
from dataclasses import dataclass


ACTIVATIONS = ("relu", "tanh", "sigmoid")
PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16")
OPTIMIZERS = ("sgd", "adam", "rmsprop", "adagrad", "adamw")  # tf_impl/optim.py, keras.optimizers
SCHEDULES = ("constant", "exponential", "cosine")  # tf_impl/schedules.py, keras.optimizers.schedules


class ConfigError(ValueError):
    """A hyperparameter value that cannot work (a negative epoch count, ...)."""


@dataclass(frozen=True)
class TrainConfig:
    """Fields every network has."""

    dataset: str = "digits"  # embedded name, tfds name (mnist, ...) or path/to/file.npz
    epochs: int = 20  # passes over the training split
    batch_size: int = 32  # examples per optimizer step
    learning_rate: float = 1e-3  # step size of the optimizer
    optimizer: str = "adam"  # sgd | adam | rmsprop | adagrad | adamw (Keras's defaults for the rest of each)
    momentum: float = 0.0  # SGD's and RMSprop's momentum (unused by adam, adagrad, adamw)
    seed: int = 0  # weights, shuffling and dropout; the data split has its own fixed seed
    validation_fraction: float = 0.1  # of the training data, held out for validation
    precision: str = "float32"  # float32 | mixed_bfloat16 | mixed_float16 (16-bit compute, float32 variables)
    nesterov: bool = False  # sgd only: Nesterov momentum (with momentum > 0)
    weight_decay: float = 0.004  # adamw only: decoupled weight decay, w -= w * weight_decay * lr every step
    # How the learning rate moves during training (supervised networks; keras.optimizers.schedules):
    learning_rate_schedule: str = "constant"  # constant | exponential | cosine
    decay_rate: float = 0.9  # exponential: the rate is multiplied by this per epoch, smoothly (ExponentialDecay)
    warmup_epochs: int = 0  # cosine: first a linear warm-up from 0 to learning_rate over these epochs (CosineDecay)

    def __post_init__(self):
        positive = ("epochs", "batch_size")
        for name in positive:
            if getattr(self, name) < 1:
                raise ConfigError(f"{name.replace('_', '-')} must be at least 1, got {getattr(self, name)}")
        if not self.learning_rate > 0:
            raise ConfigError(f"learning-rate must be positive, got {self.learning_rate}")
        if self.optimizer not in OPTIMIZERS:
            raise ConfigError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {self.optimizer!r}")
        if self.nesterov and self.optimizer != "sgd":
            raise ConfigError(f"nesterov is SGD's momentum: use it with optimizer sgd, not {self.optimizer!r}")
        if self.learning_rate_schedule not in SCHEDULES:
            raise ConfigError(f"learning-rate-schedule must be one of {', '.join(SCHEDULES)}, "
                              f"got {self.learning_rate_schedule!r}")
        if not 0.0 < self.decay_rate <= 1.0:
            raise ConfigError(f"decay-rate must be in (0, 1], got {self.decay_rate}")
        if self.warmup_epochs < 0:
            raise ConfigError(f"warmup-epochs must be >= 0, got {self.warmup_epochs}")
        if self.warmup_epochs and self.learning_rate_schedule != "cosine":
            raise ConfigError("warmup-epochs is the cosine schedule's warm-up: use it with --learning-rate-schedule "
                              f"cosine, not {self.learning_rate_schedule!r}")
        if self.warmup_epochs >= self.epochs:
            raise ConfigError(f"a warm-up of {self.warmup_epochs} epochs is longer than training ({self.epochs} "
                              "epochs): the rate would never decay")
        if not self.weight_decay >= 0:
            raise ConfigError(f"weight-decay must be >= 0, got {self.weight_decay}")
        if not 0.0 <= self.momentum < 1.0:
            raise ConfigError(f"momentum must be in [0, 1), got {self.momentum}")
        if not 0.0 < self.validation_fraction < 0.5:
            raise ConfigError(f"validation-fraction must be in (0, 0.5), got {self.validation_fraction}")
        if self.precision not in PRECISIONS:
            raise ConfigError(f"precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")
        if self.seed < 0:
            raise ConfigError(f"seed must be >= 0, got {self.seed}")
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if field.name.endswith("dropout") and not 0.0 <= value < 1.0:
                raise ConfigError(f"{field.name.replace('_', '-')} must be in [0, 1), got {value}")
            if field.name == "activation" and value not in ACTIVATIONS:
                raise ConfigError(f"activation must be one of {', '.join(ACTIVATIONS)}, got {value!r}")
            if field.name in ("l1", "l2") and not 0.0 <= value < float("inf"):  # NaN and inf too
                raise ConfigError(f"{field.name} must be >= 0 (and finite), got {value}")
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
    l1: float = 0.0  # L1 penalty on the weights, added to the loss as l1 * sum(|w|); both > 0: elastic net


@dataclass(frozen=True)
class MLPConfig(TrainConfig):
    epochs: int = 30
    hidden_units: int = 64  # width of the single hidden layer
    activation: str = "relu"  # hidden nonlinearity: relu | tanh | sigmoid
    l2: float = 0.0  # L2 penalty on both kernels, l2 * sum(w**2)
    l1: float = 0.0  # L1 penalty on both kernels, l1 * sum(|w|); both > 0: elastic net


BACKPROP_LOSSES = ("cross_entropy", "squared_error")  # backprop's --loss: its output and how it is scored


@dataclass(frozen=True)
class BackpropConfig(TrainConfig):
    """The feed-forward network whose tf_impl gradients are written out by hand (tf_impl/backprop.py)."""

    dataset: str = "moons"  # two moons: the best line scores 0.885, one hidden layer ~0.96; also xor, digits
    epochs: int = 40
    learning_rate: float = 1e-2
    hidden_units: tuple[int, ...] = (32,)  # one or two hidden layers: two or three dense layers in all
    activation: str = "tanh"  # hidden nonlinearity: relu | tanh | sigmoid
    # cross_entropy: softmax (sigmoid for 2 classes) cross-entropy of the logits;
    # squared_error: mean over the outputs of (softmax(logits) - one_hot(y))^2 (sigmoid and y for 2 classes)
    loss: str = "cross_entropy"

    def __post_init__(self):
        super().__post_init__()
        if not 1 <= len(self.hidden_units) <= 2:
            raise ConfigError(f"hidden-units must name one or two hidden layers, got {len(self.hidden_units)}: "
                              f"{','.join(map(str, self.hidden_units))}")
        if self.loss not in BACKPROP_LOSSES:
            raise ConfigError(f"loss must be one of {', '.join(BACKPROP_LOSSES)}, got {self.loss!r}")


@dataclass(frozen=True)
class DeepMLPConfig(TrainConfig):
    epochs: int = 100  # an upper bound: early stopping ends training sooner (25-50 epochs on digits)
    learning_rate: float = 5e-4  # 1e-3 overshoots the best epoch: worst seed 0.950 vs 0.961 (3-seed sweep)
    hidden_units: tuple[int, ...] = (256, 128, 128, 64, 64)  # five hidden layers
    activation: str = "relu"
    dropout: float = 0.2  # after every hidden layer, training only
    l2: float = 1e-4  # L2 weight decay on every kernel, l2 * sum(w**2)
    l1: float = 0.0  # L1 penalty on every kernel, l1 * sum(|w|); with l2 > 0: elastic net
    patience: int = 15  # epochs without a better validation loss before stopping (the 144-example val set is noisy)


@dataclass(frozen=True)
class CNNConfig(TrainConfig):
    epochs: int = 30
    filters: tuple[int, ...] = (32, 64)  # one conv + 2x2 max-pool block per entry
    kernel_size: int = 3  # square kernels, 'same' padding so 8x8 inputs survive pooling
    dense_units: int = 128  # fully connected layer before the classifier
    dropout: float = 0.0  # before the classifier, training only
    l2: float = 0.0  # L2 penalty on every conv and dense kernel, l2 * sum(w**2)
    l1: float = 0.0  # L1 penalty on every conv and dense kernel, l1 * sum(|w|); both > 0: elastic net


@dataclass(frozen=True)
class RegressionConfig(TrainConfig):
    """Feed-forward regression: dense hidden layers to one linear output, squared error (common.registry)."""

    dataset: str = "diabetes"  # 442 patients x 10 features -> disease progression; or an .npz with real-valued y
    # 10 steps an epoch on diabetes' 317 training examples: ~2 s a run on 2 CPU cores. The loss (mostly the
    # penalty) still falls at 50; trained to convergence (150-300 epochs, tf, seeds 0-2) R² stays 0.343-0.347.
    epochs: int = 50
    hidden_units: tuple[int, ...] = (32,)  # one dense hidden layer per entry
    activation: str = "relu"  # hidden nonlinearity: relu | tanh | sigmoid
    # L2 penalty on every kernel, l2 * sum(w**2). 317 examples overfit without it: worst test R² of seeds 0-7
    # by L2 (a Keras sweep, 50 epochs): 0 -> 0.319, 0.01 -> 0.330, 0.03 -> 0.343, 0.1 -> 0.357. At 0.1,
    # `twinnets compare regression --seeds 8`: Keras 0.368 +- 0.007, tf 0.363 +- 0.011 (linear model: 0.329).
    l2: float = 0.1
    l1: float = 0.0  # L1 penalty on every kernel, l1 * sum(|w|); both > 0: elastic net


# --- recurrent networks (rnn, lstm, gru) ---


@dataclass(frozen=True)
class RecurrentConfig(TrainConfig):
    """What rnn, lstm and gru share: the recurrent stack and how it reads its input."""

    dataset: str = "digits_sequences"  # 8x8 digits read row by row: 8 steps of 8 pixels
    epochs: int = 30  # ~7 s per run on 2 CPU cores; every seed of all three nets above 0.96 on digits
    learning_rate: float = 5e-3
    units: tuple[int, ...] = (64,)  # one recurrent layer per entry, stacked; all but the last return sequences
    bidirectional: bool = False  # every layer also reads backwards; the two outputs are concatenated
    masking: bool = True  # a step whose features are all 0.0 is padding: the state is carried over it
    embedding_size: int = 32  # token data (imdb_reviews) only: width of the learned word vectors
    l2: float = 0.0  # L2 penalty on the dense head's kernel, l2 * sum(w**2) (not on the recurrent kernels)
    l1: float = 0.0  # L1 penalty on the dense head's kernel, l1 * sum(|w|); both > 0: elastic net


@dataclass(frozen=True)
class RNNConfig(RecurrentConfig):
    """Elman network: the RecurrentConfig defaults."""


@dataclass(frozen=True)
class LSTMConfig(RecurrentConfig):
    """LSTM: the RecurrentConfig defaults."""


@dataclass(frozen=True)
class GRUConfig(RecurrentConfig):
    """GRU: the RecurrentConfig defaults."""


GESTURE_CELLS = ("lstm", "gru")  # gesture: keras.layers.LSTM / GRU, tf_impl.layers.LSTMCell / GRUCell


@dataclass(frozen=True)
class GestureConfig(RecurrentConfig):
    """gesture: the recurrent classifier (Masking -> LSTM/GRU -> Dense) on motion-sensor traces of varying length."""

    dataset: str = "gestures"  # 6 generated gestures, 30-80 steps of 3 axes, zero-padded to 80 (common/data/tasks)
    cell: str = "gru"  # gru | lstm: the recurrent layer of every entry of units
    epochs: int = 8
    learning_rate: float = 1e-2
    batch_size: int = 64
    units: tuple[int, ...] = (32,)

    def __post_init__(self):
        super().__post_init__()
        if self.cell not in GESTURE_CELLS:
            raise ConfigError(f"cell must be one of {', '.join(GESTURE_CELLS)}, got {self.cell!r}")


# --- generative networks (autoencoder, vae, gan) ---


@dataclass(frozen=True)
class AutoencoderConfig(TrainConfig):
    epochs: int = 40
    latent_dim: int = 8  # size of the code: 64 pixels squeezed through latent_dim numbers
    hidden_units: int = 64  # dense variant: one hidden layer on each side of the code
    convolutional: bool = False  # stride-2 convolutions down, transposed convolutions up
    filters: tuple[int, ...] = (16, 32)  # convolutional variant: one stride-2 conv per entry (8x8 -> 4x4 -> 2x2)

    def __post_init__(self):
        super().__post_init__()
        if self.latent_dim < 1:
            raise ConfigError(f"latent-dim must be at least 1, got {self.latent_dim}")


@dataclass(frozen=True)
class VAEConfig(TrainConfig):
    epochs: int = 40
    learning_rate: float = 2e-3  # the ELBO plateaus slowly at 1e-3 on 1,293 digits
    latent_dim: int = 4  # dimensions of z; the prior is N(0, I)
    hidden_units: int = 128  # one hidden layer in the encoder and one in the decoder

    def __post_init__(self):
        super().__post_init__()
        if self.latent_dim < 1:
            raise ConfigError(f"latent-dim must be at least 1, got {self.latent_dim}")


@dataclass(frozen=True)
class GANConfig(TrainConfig):
    epochs: int = 30  # 630 steps per player: digit-like samples in 6-7 s on 2 CPU cores
    batch_size: int = 32  # 64 gave half the steps and a worst seed of 16.1 (Keras); 32: worst 5.6 / 7.7 of 5
    learning_rate: float = 2e-3  # both players; DCGAN's 2e-4 needs several times the steps to reach the same quality
    adam_beta_1: float = 0.5  # Adam's (and AdamW's) first-moment decay, as in DCGAN (Radford et al. 2015)
    latent_dim: int = 16  # size of the generator's input noise z ~ N(0, I)
    generator_filters: tuple[int, ...] = (64, 32)  # dense -> (2, 2, 64) -> transposed conv 32 (4x4) -> 1 (8x8)
    discriminator_filters: tuple[int, ...] = (32, 64)  # one stride-2 conv + leaky ReLU per entry

    def __post_init__(self):
        super().__post_init__()
        if self.latent_dim < 1:
            raise ConfigError(f"latent-dim must be at least 1, got {self.latent_dim}")
        if not 0.0 <= self.adam_beta_1 < 1.0:
            raise ConfigError(f"adam-beta-1 must be in [0, 1), got {self.adam_beta_1}")


@dataclass(frozen=True)
class CGANConfig(GANConfig):
    """Conditional GAN: the GAN's players and hyperparameters, the class label one-hot into both.

    The generator reads [z, one_hot(label)] (latent_dim + classes numbers); the discriminator
    reads the image with one_hot(label) as extra channels, constant over the image.
    """

    # Measured, seeds 0-4 each (conditional accuracy, Keras / tf): the GAN's 30 epochs at 2e-3 gave
    # 0.932 +- 0.034 / 0.926 +- 0.039, worst seeds 0.889 / 0.850 (at the floor); 30 epochs at 1e-3
    # 0.904 +- 0.042 / 0.938 +- 0.018; 40 epochs at 1e-3 0.942 +- 0.023 / 0.926 +- 0.012, worst 0.906 / 0.914.
    # The score moves by several points from one epoch to the next (tf, 1e-3, seed 1: 0.889-0.969 over
    # the last 12 of 30 epochs): where a run stops matters, hence the five seeds.
    epochs: int = 40  # 840 steps per player
    learning_rate: float = 1e-3  # both players


@dataclass(frozen=True)
class WGANGPConfig(GANConfig):
    """Wasserstein GAN with gradient penalty: the GAN's two networks, the discriminator as a critic.

    discriminator_filters are the critic's (gan's discriminator: no batch norm, a linear score);
    the critic minimises D(fake) - D(real) + gp_weight * (|grad D(x_hat)| - 1)^2, n_critic
    times per generator step, each time on the same batch of real images with fresh noise.
    """

    epochs: int = 10  # 410 generator and 2,050 critic steps: Frechet distance 2.0-4.2 on digits; 11-13 s of training
    learning_rate: float = 1e-3  # both players; seed 1 at 8 epochs: 2.0-2.3 (1e-3), 2.5-3.2 at the gan's 2e-3
    n_critic: int = 5  # critic steps per generator step (Gulrajani et al. 2017: 5)
    gp_weight: float = 10.0  # lambda, the gradient penalty's weight (Gulrajani et al. 2017: 10)

    def __post_init__(self):
        super().__post_init__()
        if self.n_critic < 1:
            raise ConfigError(f"n-critic must be at least 1, got {self.n_critic}")
        if not 0.0 < self.gp_weight < float("inf"):  # NaN and inf too
            raise ConfigError(f"gp-weight must be positive (and finite), got {self.gp_weight}")


# --- energy models (rbm) ---


@dataclass(frozen=True)
class RBMConfig(TrainConfig):
    """Bernoulli-Bernoulli restricted Boltzmann machine on binarised images, trained by CD-k or PCD.

    The update is W += learning_rate * (<v p(h|v)>_data - <v p(h|v)>_model) (batch means), biases
    likewise, by the optimizer (plain SGD by default): tf_impl/rbm.py, keras_impl/rbm.py.
    """

    epochs: int = 50
    batch_size: int = 20
    learning_rate: float = 0.1  # at the start: the cosine schedule takes it to 0 at the last step
    optimizer: str = "sgd"  # the CD update as it is usually written; momentum and the others apply to it alike
    # Decayed to 0 over training, as Tieleman (2008) decays PCD's rate linearly: at a constant rate the chains' last
    # steps decide where the weights stop (tf, seeds 0-4, 50 epochs: test log-likelihood -19.99 +- 0.45 at 0.05,
    # worst -20.81; with the cosine from 0.1: -19.21 +- 0.08, worst -19.33).
    learning_rate_schedule: str = "cosine"
    n_hidden: int = 16  # hidden units; <= 20 keeps the exact log-likelihood (2^n_hidden states), beyond: AIS
    k: int = 1  # Gibbs steps (h ~ p(h|v), v ~ p(v|h)) from the chain's start to the negative sample
    persistent: bool = True  # PCD (Tieleman 2008): the chains carry over between updates; --no-persistent: CD-k

    def __post_init__(self):
        super().__post_init__()
        if self.n_hidden < 1:
            raise ConfigError(f"n-hidden must be at least 1, got {self.n_hidden}")
        if self.k < 1:
            raise ConfigError(f"k (Gibbs steps per update) must be at least 1, got {self.k}")


@dataclass(frozen=True)
class DBNConfig(TrainConfig):
    """Deep belief network: RBMs stacked greedily, unrolled into a sigmoid classifier and fine-tuned; vs scratch.

    Pretraining: one RBM per entry of hidden_units, each trained by CD-k/PCD (plain SGD at
    pretrain_learning_rate, batch_size, the rbm network's update) on the hidden probabilities of the one
    below; the first reads the pixels' grey levels as the probabilities of its visible units. Fine-tuning:
    the unrolled classifier (sigmoid layers with the RBMs' kernels and hidden biases, a new softmax layer)
    trained by backpropagation for `epochs` at `learning_rate` with `optimizer`; scratch, the baseline,
    is the same classifier from random initial weights with the same budget. tf_impl/dbn.py, keras_impl/dbn.py.
    """

    # Measured over seeds 0-2 (test accuracy of the pretrained DBN, worst seed in brackets; scratch beside it):
    # RBMs at lr 0.1 for 20 epochs stay barely trained (kernel std 0.1, hidden probabilities ~0.44), and with 60
    # fine-tuning epochs pretraining costs accuracy: tf 0.970 (0.967), scratch 0.977. `twinnets compare dbn
    # --pretrain-learning-rate 0.5 --pretrain-epochs 20`: Keras 0.974 (0.972), tf 0.971 (0.967: under the floor);
    # at 1.0 the chains blow up (Frechet distance ~96). The defaults, `twinnets compare dbn --seeds 5`: Keras
    # 0.977 (0.975), tf 0.977 (0.972), scratch 0.973 / 0.976, Frechet distance 7.5 / 8.6; 60 fine-tuning
    # epochs gave 0.982 / 0.977 (tf, 3 seeds) for a third more time.
    epochs: int = 30  # fine-tuning (and scratch): passes over the training images
    learning_rate: float = 1e-2  # fine-tuning (and scratch); 1e-3 for 30 epochs left both at 0.94-0.95 (Keras, sklearn RBMs)
    hidden_units: tuple[int, ...] = (128, 64)  # one RBM (and one sigmoid layer of the classifier) per entry
    pretrain_epochs: int = 50  # passes over the training images for each RBM of the stack
    pretrain_learning_rate: float = 0.3  # the RBMs' SGD step on the CD statistics
    k: int = 1  # Gibbs steps of each CD update (Hinton 2006 pretrains with CD-1)
    persistent: bool = False  # --persistent: PCD (Tieleman 2008), the chains carried over between updates
    sample_steps: int = 200  # Gibbs steps in the top RBM, from binary noise, before the top-down pass of a sample

    def __post_init__(self):
        super().__post_init__()
        if not self.hidden_units:
            raise ConfigError("hidden-units must name at least one hidden layer (one RBM)")
        for name in ("pretrain_epochs", "k", "sample_steps"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name.replace('_', '-')} must be at least 1, got {getattr(self, name)}")
        if not 0.0 < self.pretrain_learning_rate < float("inf"):  # NaN and inf too
            raise ConfigError(f"pretrain-learning-rate must be positive (and finite), got {self.pretrain_learning_rate}")


# --- sequence to sequence (seq2seq) ---


@dataclass(frozen=True)
class Seq2SeqConfig(TrainConfig):
    """LSTM encoder-decoder (Sutskever et al. 2014) with Luong dot-product attention (--no-attention: without).

    Characters in, characters out: the encoder reads the source's ids, its final (h, c) starts
    the decoder, which is trained with teacher forcing (it reads the target shifted right) and
    decodes greedily (beam_width 1) or by beam search. keras_impl/seq2seq.py, tf_impl/seq2seq.py.
    """

    dataset: str = "dates"  # dates in many formats -> ISO (generated); or path/to/pairs.tsv (Anki/Tatoeba format)
    # The default budget (dates with attention, exact match over the 1,000 test dates; `twinnets compare seq2seq
    # --seeds S --epochs E --train-pairs N`): E x N = 6 x 2,000 (192 steps): tf 0.926-0.988 (3 seeds); 5 x 3,000 (235
    # steps): Keras 0.925-1.000 (seed 1 under the floor); the same with --learning-rate-schedule cosine: Keras
    # 0.904-0.953, tf 0.937-0.991; 6 x 3,000 (282 steps): 0.974-1.000 and 0.992-1.000 over seeds 0-7, but seeds 0-11
    # again, on one thread: Keras 0.948-1.000 (two under 0.953), tf 0.930-1.000: too close to the floor for seeds
    # nobody measured. 8 x 3,000 (376 steps), seeds 0-23, one thread: Keras 0.990-1.000, tf 0.982-1.000.
    # About 10 s a run on one core, 3-5 s of it the first epoch (tracing both recurrences).
    epochs: int = 8
    batch_size: int = 64
    learning_rate: float = 2e-2  # 1e-2 needs about twice the epochs (12 epochs: 0.999 both, seed 0)
    units: int = 64  # the encoder's and the decoder's LSTM width (the decoder starts from the encoder's final h, c)
    embedding_dim: int = 16  # width of the learned character vectors, one table per side
    attention: bool = True  # Luong dot-product attention over the encoder's outputs; --no-attention: none
    beam_width: int = 1  # 1: greedy decoding; k > 1: beam search keeping k hypotheses (summed log-probabilities)
    max_output_length: int = 64  # decoding stops at the end token, or after this many characters
    train_pairs: int = 3000  # the first N pairs of the training split (keras-io's num_samples); 0: all of them

    def __post_init__(self):
        super().__post_init__()
        if self.beam_width < 1:
            raise ConfigError(f"beam-width must be at least 1 (1: greedy decoding), got {self.beam_width}")
        for name in ("embedding_dim", "max_output_length"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name.replace('_', '-')} must be at least 1, got {getattr(self, name)}")
        if self.train_pairs < 0:
            raise ConfigError(f"train-pairs must be >= 0 (0: every training pair), got {self.train_pairs}")


# --- character-level language model (charlm) ---


CELLS = ("lstm", "gru", "rnn")  # charlm's --cell: tf_impl/layers.py LSTMCell, GRUCell, SimpleRNNCell; keras.layers.*


@dataclass(frozen=True)
class CharLMConfig(TrainConfig):
    """Character-level language model: an embedding, one or two recurrent layers returning sequences, a softmax
    over the characters at every step, trained on next-character prediction. keras_impl/charlm.py, tf_impl/charlm.py.

    The loss is the mean cross-entropy over the real (not padded) characters of a batch, on both sides.
    """

    dataset: str = "reber"  # embedded Reber strings (generated); or tiny_shakespeare (tfds), or path/to/file.txt
    # Measured on reber (tf, seeds 0-3/0-5, test ce_over_optimum; `python -m common.twinnets compare charlm ...`):
    # 32 units at a constant 1e-2 for 12 epochs: 1.016-1.035, and at 20 epochs still 1.011-1.025: at a constant
    # rate the validation loss wanders +-2% from one epoch to the next, so where a run stops decides. 64 units at
    # 2e-2: 1.013-1.032 (12 epochs); cosine from 2e-2 over 10 epochs: 1.017-1.033 (too little time at the high
    # rate to learn the long dependency); over 14 epochs: 1.006-1.008 on all six seeds, ~6-7 s a run.
    epochs: int = 14
    batch_size: int = 32
    learning_rate: float = 2e-2  # at the start: the cosine schedule takes it to 0 at the last step
    learning_rate_schedule: str = "cosine"
    cell: str = "lstm"  # lstm | gru | rnn: the recurrent cell of every layer
    layers: int = 1  # recurrent layers, 1 or 2, each returning its whole sequence
    units: int = 64  # width of every recurrent layer (32 units: acceptance 0.93-0.97 at temperature 1.0)
    embedding_dim: int = 8  # width of the learned character vectors
    sequence_length: int = 100  # real text only: characters per training window (each read from a fresh state)
    # The acceptance metric's sampling temperature (reber): softmax(logits / temperature); 0.8, the temperature the
    # issue's `twinnets generate` example uses. Measured with the defaults above (seeds 0-7, both sides): 1,000
    # strings at 0.8, 0.994-0.999 (floor 0.98); 200 strings at 1.0, 0.965-0.99 (the model's own distribution keeps
    # a little mass on wrong symbols, and a 20-symbol string gives it 20 chances).
    temperature: float = 0.8
    samples: int = 1000  # strings generated for the acceptance metric (reber), each from <start> B

    def __post_init__(self):
        super().__post_init__()
        if self.cell not in CELLS:
            raise ConfigError(f"cell must be one of {', '.join(CELLS)}, got {self.cell!r}")
        if self.layers not in (1, 2):
            raise ConfigError(f"layers must be 1 or 2, got {self.layers}")
        for name in ("embedding_dim", "samples"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name.replace('_', '-')} must be at least 1, got {getattr(self, name)}")
        if self.sequence_length < 2:
            raise ConfigError(f"sequence-length must be at least 2, got {self.sequence_length}")
        if not 0.0 < self.temperature < float("inf"):  # NaN and inf too
            raise ConfigError(f"temperature must be positive (and finite), got {self.temperature}")


# --- time-series forecasting (forecaster) ---


@dataclass(frozen=True)
class ForecasterConfig(TrainConfig):
    """LSTM over a window of past values -> the next `horizon` values at once (direct multi-output)."""

    dataset: str = "mackey_glass"  # mackey_glass | sine | path/to/file.csv (with --column NAME)
    # Chosen by `twinnets compare forecaster --seeds 8` on one thread (rmse_over_persistence, worst of seeds 0-7,
    # Keras / tf): window 24, 5 epochs 0.231 / 0.198; 8 epochs 0.139 / 0.105; window 16, 8 epochs 0.106 / 0.120;
    # 6 epochs 0.131 / 0.130 (~1.7 s of training a run); window 12, 8 epochs 0.228 / 0.215. Floor: 0.333.
    epochs: int = 6
    learning_rate: float = 1e-2
    window: int = 16  # past values the LSTM reads (a third of Mackey-Glass's ~50-step cycle)
    horizon: int = 10  # H: values forecast at once, one output each
    units: tuple[int, ...] = (32,)  # one LSTM layer per entry (one or two), stacked; the last returns its final output
    column: str = ""  # a CSV dataset's column to forecast (header name); the rows are time steps, in order
    period: int = 0  # the season in steps, for the seasonal-naive baseline of a CSV series (0: none; sine knows its own)

    def __post_init__(self):
        super().__post_init__()
        for name in ("window", "horizon"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1, got {getattr(self, name)}")
        if not 1 <= len(self.units) <= 2:
            raise ConfigError(f"units must name one or two LSTM layers, got {len(self.units)}: "
                              f"{','.join(map(str, self.units))}")
        if self.period < 0:
            raise ConfigError(f"period must be >= 0 (0: no season), got {self.period}")
        if self.column and not self.dataset.endswith(".csv"):
            raise ConfigError(f"column names a column of a CSV dataset; {self.dataset!r} is not a .csv file")


# --- named-entity recognition (tagger) ---


@dataclass(frozen=True)
class TaggerConfig(TrainConfig):
    """Embedding (mask_zero) -> bidirectional LSTM returning sequences -> a softmax over the IOB2 tags at every token."""

    dataset: str = "entities"  # generated sentences, unseen names at test time (common/data/tasks); or path/to/file.conll
    # Measured on entities (one thread, test F1): 6 epochs 0.9992 on both sides (seed 0, ~10 s a run); 2 epochs
    # 0.9922 / 0.9963 (Keras, seeds 1 / 2, ~4 s); 3 epochs 0.9950-0.9996 over seeds 0-7 of both (~5 s a run; the
    # registry's entry). Floor 0.90.
    epochs: int = 3
    batch_size: int = 32
    learning_rate: float = 1e-2
    embedding_size: int = 32  # width of the learned word vectors
    units: int = 32  # LSTM units of each direction: the tag layer reads 2 * units per token
    min_count: int = 2  # training occurrences that give a word its own id; rarer words are out of vocabulary (id 1)

    def __post_init__(self):
        super().__post_init__()
        if self.min_count < 1:
            raise ConfigError(f"min-count must be at least 1, got {self.min_count}")


# --- object detection (detection) ---


@dataclass(frozen=True)
class DetectionConfig(TrainConfig):
    """CenterNet: strided convs to stride 8, one upsampling back to stride 4 (plus the stride-4 features), three heads."""

    dataset: str = "scene_boxes"  # generated scenes (common/data/tasks); voc (tfds); or path/to/annotations.json (COCO)
    # Measured on scene_boxes (test mAP@0.5, shared 2-core machine): learning rate 2e-3, 12 epochs: Keras 0.896-0.950,
    # tf 0.891-0.958 (seeds 0-3); 20 epochs: Keras 0.927-0.965 (seeds 0-3); 8 epochs: Keras 0.70-0.88 (seeds 0-2),
    # under the floor. 5e-3, 10 epochs: Keras 0.877-0.961, tf 0.768-0.944 (seeds 0-7): tf's seed 0 under the floor,
    # the faster rate is the less steady one. Floor 0.80.
    epochs: int = 16
    batch_size: int = 32
    learning_rate: float = 2e-3
    image_size: int = 64  # images are resized (scenes drawn) to image_size x image_size; a multiple of 8
    filters: tuple[int, ...] = (16, 32, 32)  # the backbone's 3x3 convs of stride 2: strides 2, 4, 8 (three entries)
    head_filters: int = 16  # each head's 3x3 conv (ReLU) before its 1x1 conv
    top_k: int = 100  # decoding: peaks kept per image, best first
    score_threshold: float = 0.05  # decoding: peaks below are dropped (low: mAP ranks them; pictures draw >= 0.3)

    def __post_init__(self):
        super().__post_init__()
        if self.image_size < 8 or self.image_size % 8:
            raise ConfigError(f"image-size must be a positive multiple of 8 (the backbone's stride), "
                              f"got {self.image_size}")
        if len(self.filters) != 3 or min(self.filters) < 1:
            raise ConfigError(f"filters must name the three strided convs' widths, got "
                              f"{','.join(map(str, self.filters))}")
        if self.head_filters < 1 or self.top_k < 1:
            raise ConfigError(f"head-filters and top-k must be at least 1, got {self.head_filters} and {self.top_k}")
        if not 0.0 <= self.score_threshold < 1.0:
            raise ConfigError(f"score-threshold must be in [0, 1), got {self.score_threshold}")


# --- semantic segmentation (segmentation) ---


@dataclass(frozen=True)
class SegmentationConfig(TrainConfig):
    """A small U-Net: conv blocks and 2x2 max-pooling down, 2x2 transposed convolutions up, skips concatenated."""

    dataset: str = "scenes"  # generated discs, squares, triangles with masks; oxford_iiit_pet (tfds); path/to/file.npz
    epochs: int = 10
    batch_size: int = 16
    learning_rate: float = 3e-3
    dice_weight: float = 1.0  # the loss: per-pixel cross-entropy + dice_weight x soft Dice (0: cross-entropy alone)
    # Channels of each level's conv block, top level first: len(filters) - 1 poolings (the encoder's total stride is
    # 2 ** (len(filters) - 1)); the last entry is the bottleneck's, and the decoder climbs back through the others.
    filters: tuple[int, ...] = (8, 16, 32)

    def __post_init__(self):
        super().__post_init__()
        if len(self.filters) < 2 or min(self.filters) < 1:
            raise ConfigError(f"filters must name at least two levels of positive widths, got {self.filters}")
        if not self.dice_weight >= 0:  # NaN too
            raise ConfigError(f"dice-weight must be >= 0, got {self.dice_weight}")


# --- speech recognition with CTC (speech) ---


@dataclass(frozen=True)
class SpeechConfig(TrainConfig):
    """Log-mel frames -> bidirectional LSTM returning sequences -> a softmax over the CTC blank and the symbols at
    every frame, trained with CTC."""

    dataset: str = "digit_sequences"  # generated 8 kHz clips of 1-4 digit tokens (common/data/tasks); or spoken_digit
    # Measured on digit_sequences (test LER of the best path, a 2-core machine shared with other work): 8 epochs,
    # seeds 0-3 (the registry's entry): Keras 0.010-0.016, tf 0.010-0.014 (23-51 s a run on that machine). With
    # frames every 16 ms (twice the frames), Keras 6 epochs 0.012-0.018, tf 0.021-0.038 (seeds 0-2). Floor 0.10.
    epochs: int = 8
    batch_size: int = 32
    learning_rate: float = 1e-2
    units: int = 32  # LSTM units of each direction: the output layer reads 2 * units per frame
    beam_width: int = 8  # prefix beam search's beam (common/ctc.py), scored beside the best path

    def __post_init__(self):
        super().__post_init__()
        if self.units < 1:
            raise ConfigError(f"units must be at least 1, got {self.units}")
        if self.beam_width < 1:
            raise ConfigError(f"beam-width must be at least 1, got {self.beam_width}")


# --- transfer learning ---


@dataclass(frozen=True)
class TransferConfig(TrainConfig):
    """Pretrain a cnn base on a source task, then transfer it to a few-shot target task.

    The base is cnn's convolutional part and the head its top (CNNConfig's defaults, so a
    `twinnets train cnn` checkpoint loads as the base). Scratch, the baseline, trains the
    same architecture on the same target examples for head_epochs + fine_tune_epochs.
    """

    dataset: str = "digits_transfer"  # source digits 0-4, target 5-9; or transfer:SOURCE:TARGET (transfer:mnist:fashion_mnist)
    epochs: int = 10  # pretraining: passes over the source task (unused with base_checkpoint)
    learning_rate: float = 3e-3  # pretraining, the new head and scratch: 50 examples make 2 steps an epoch
    filters: tuple[int, ...] = (32, 64)  # the base: one conv + 2x2 max-pool block per entry, as cnn
    kernel_size: int = 3  # square kernels, 'same' padding
    dense_units: int = 128  # the head: Dense(dense_units, relu) -> Dropout -> Dense(classes), as cnn's top
    dropout: float = 0.0  # in the head, before the classifier, training only
    l2: float = 0.0  # L2 penalty on every trained conv and dense kernel (base and head, as cnn), l2 * sum(w**2)
    l1: float = 0.0  # L1 penalty on the same kernels, l1 * sum(|w|); both > 0: elastic net
    examples_per_class: int = 10  # labelled target examples per class (few-shot); the same ones for every seed
    head_epochs: int = 30  # feature extraction: base frozen, a new head trained at learning_rate
    fine_tune_epochs: int = 20  # fine-tuning: the top of the base unfrozen, at fine_tune_learning_rate
    fine_tune_learning_rate: float = 3e-4  # a tenth of learning_rate: small steps keep the pretrained features
    fine_tune_layers: int = 1  # conv layers of the base, counted from the top, trained again when fine-tuning
    base_checkpoint: str = ""  # "" = pretrain now; else weights.npz (either impl), model.weights.h5 (keras) or checkpoint (tf)

    def __post_init__(self):
        super().__post_init__()
        for name in ("examples_per_class", "head_epochs", "fine_tune_epochs", "fine_tune_layers"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name.replace('_', '-')} must be at least 1, got {getattr(self, name)}")
        if self.fine_tune_layers > len(self.filters):
            raise ConfigError(
                f"fine-tune-layers must be at most {len(self.filters)}, the base's conv layers, got {self.fine_tune_layers}"
            )
        if not self.fine_tune_learning_rate > 0:
            raise ConfigError(f"fine-tune-learning-rate must be positive, got {self.fine_tune_learning_rate}")

    def base_config(self):
        """The cnn whose convolutional part is the base and whose top is the head."""
        return CNNConfig(
            epochs=self.epochs, batch_size=self.batch_size, learning_rate=self.learning_rate,
            optimizer=self.optimizer, momentum=self.momentum, nesterov=self.nesterov,
            weight_decay=self.weight_decay, seed=self.seed,
            validation_fraction=self.validation_fraction, filters=self.filters,
            kernel_size=self.kernel_size, dense_units=self.dense_units, dropout=self.dropout,
            l2=self.l2, l1=self.l1,
        )

    def epochs_of(self, phase):
        """Passes over the target's few examples: scratch gets the transferred model's whole budget."""
        return {"feature_extraction": self.head_epochs, "fine_tuning": self.fine_tune_epochs,
                "scratch": self.head_epochs + self.fine_tune_epochs}[phase]

    def learning_rate_of(self, phase):
        return self.fine_tune_learning_rate if phase == "fine_tuning" else self.learning_rate
