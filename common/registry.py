"""The registry: every network twinnets knows, and how it is judged.

Tests, the CLI and `twinnets compare` all iterate over NETWORKS, so a network added
here is checked the same way as every other one.
"""
import dataclasses
from dataclasses import dataclass

from common import configs


# Families whose training takes --learning-rate-schedule (keras_impl/supervised.py, tf_impl/supervised.py; rbm's own;
# charlm's, through the same schedule functions).
SCHEDULED_FAMILIES = ("classifier", "recurrent", "regression", "energy", "charlm", "seq2seq", "gesture")


@dataclass(frozen=True)
class NetworkSpec:
    name: str  # module name in keras_impl/ and tf_impl/
    title: str
    config_class: type
    metric: str  # headline test metric, computed by common.evaluate
    higher_is_better: bool
    floor: float  # both implementations must reach this on the default data (and only there: see floor_for)
    # The equivalence margin of `twinnets compare` (TOST, common/stats.py) and the suite's level-4 check
    # |mean_keras - mean_tf| <= tolerance. Each is stated in the unit users think in, beside it, and
    # set from that meaning, never from a run: ACCURACY_POINTS for accuracies; for reconstruction, a
    # tenth of what the floor asks beyond the trivial baseline; for the GAN, a tenth of the distance
    # between real held-out digits and noise.
    tolerance: float
    inputs: str  # "image" (N,H,W,C) | "table" (N,F) | "any" (flattened when needed) | "sequence" (N,T,F), images by row, token ids
    #              | "pairs" source -> target id sequences (common/data/pairs.py: dates, .tsv), and nothing else
    reference: str  # the paper or idea
    family: str = "classifier"  # how the parity suite drives it: build(config, input_shape, num_classes) -> logits
    precisions: tuple = configs.PRECISIONS  # the config.precision values both implementations support (all, today)
    # Floors measured on other datasets, {dataset name: floor}; a dataset not named here and not the
    # default gets no verdict: a floor set on breast cancer says nothing about a user's images.
    other_floors: dict = dataclasses.field(default_factory=dict)

    def check(self, config):
        """Refuse a config this network cannot run (before any data is loaded or file written)."""
        if config.precision not in self.precisions:
            raise configs.ConfigError(
                f"precision {config.precision} is not available for {self.name} "
                f"(available: {', '.join(self.precisions)})"
            )
        if config.learning_rate_schedule != "constant" and self.family not in SCHEDULED_FAMILIES:
            raise configs.ConfigError(
                f"learning-rate-schedule is for the supervised networks and the rbm; {self.name} trains at a constant rate"
            )
        return config

    @property
    def default_dataset(self):
        return self.config_class().dataset

    def floor_for(self, dataset, metric=None):
        """The floor for `metric` (default: the headline one) on `dataset`, or None where none was set."""
        if metric is not None and metric != self.metric:
            return None
        if dataset == self.default_dataset:
            return self.floor
        return self.other_floors.get(dataset)

    def clears(self, value, floor):
        """True when `value` is on the right side of `floor` (>= for higher-is-better metrics, else <=)."""
        return value >= floor if self.higher_is_better else value <= floor


ACCURACY_POINTS = 0.02  # two percentage points of test accuracy: 7 of digits' 360 test images, 2 of breast cancer's 114

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
            tolerance=ACCURACY_POINTS,
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
            tolerance=ACCURACY_POINTS,
            inputs="any",
            reference="Rumelhart, Hinton & Williams 1986, backpropagation",
        ),
        NetworkSpec(
            name="backprop",
            title="Backpropagation written out: 2-3 dense layers, every tf_impl gradient by the chain rule",
            config_class=configs.BackpropConfig,
            metric="accuracy",
            higher_is_better=True,
            # Test accuracy on moons (200 test points). Measured, `twinnets compare backprop --seeds 5` (defaults,
            # 40 epochs): Keras 0.960 +- 0.007 (worst 0.950), tf 0.962 +- 0.002 (worst 0.960); the best line
            # (scikit-learn LogisticRegression) scores 0.885. Floor: 4.5 points (9 test points) above that line,
            # 2 points under every measured run: clearing it takes the hidden layer.
            floor=0.93,
            tolerance=ACCURACY_POINTS,  # 4 of moons' 200 test points
            inputs="any",
            # float32 only: the hand-written backward pass is the lesson; a 16-bit one would have to copy the
            # rounding of every op autodiff inserts (casts, fused activation gradients) to match Keras.
            precisions=("float32",),
            reference="Rumelhart, Hinton & Williams 1986, learning representations by back-propagating errors",
            # digits: `twinnets compare backprop --seeds 5 --dataset digits`: Keras 0.978 +- 0.001 (worst 0.978),
            # tf 0.975 +- 0.004 (worst 0.969); 0.95 as the mlp's floor there. xor (160 test points): `... --dataset
            # xor`: Keras 0.993 (worst 0.988), tf 0.994 (all 0.994); a line scores 0.52, the floor asks 0.95.
            other_floors={"digits": 0.95, "xor": 0.95},
        ),
        NetworkSpec(
            name="deep_mlp",
            title="Deep feed-forward network: 5 hidden layers, dropout, L2, early stopping",
            config_class=configs.DeepMLPConfig,
            metric="accuracy",
            higher_is_better=True,
            floor=0.95,
            tolerance=ACCURACY_POINTS,
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
            tolerance=ACCURACY_POINTS,
            inputs="image",
            reference="LeCun et al. 1998, gradient-based learning applied to document recognition",
        ),
        NetworkSpec(
            name="regression",
            title="Feed-forward regression: dense layers to one linear output, squared error",
            config_class=configs.RegressionConfig,
            metric="r2",  # test R², in the targets' own units (common.evaluate.regression); RMSE beside it
            higher_is_better=True,
            # Floor: scikit-learn's LinearRegression on the same fixed diabetes split (fit on the 317
            # training examples, scored on the 89 test ones) reaches R² 0.3290, and diabetes is nearly
            # linear: both implementations must come within 0.02 of it, 0.3290 - 0.02 = 0.3090
            # (python -c "from common import data, evaluate; d = data.load('diabetes'); print(evaluate.
            # regression_baselines(d.x_train, d.y_train, d.x_test, d.y_test))": r2_linear; recomputed by
            # tests/test_parity_regression.py).
            floor=0.3090,
            # A tenth of what the floor asks beyond predicting the mean (R² 0): 0.3090 / 10 = 0.0309 of R²,
            # about 1.4 of diabetes' test RMSE of ~58 (progression points).
            tolerance=0.0309,
            inputs="any",
            family="regression",  # parity: tests/test_parity_regression.py (levels 1-3, metrics, baselines)
            reference="Rumelhart, Hinton & Williams 1986; data: Efron, Hastie, Johnstone & Tibshirani 2004, LARS",
        ),
        # --- recurrent networks (rnn, lstm, gru) ---
        NetworkSpec(
            name="rnn",
            title="Elman simple recurrent network (tanh), stacked/bidirectional, masked padding",
            config_class=configs.RNNConfig,
            metric="accuracy",
            higher_is_better=True,
            floor=0.95,
            tolerance=ACCURACY_POINTS,
            inputs="sequence",
            family="recurrent",  # parity: tests/test_parity_recurrent.py (masks, lengths, stacking, BPTT)
            reference="Elman 1990, finding structure in time",
        ),
        NetworkSpec(
            name="lstm",
            title="Long short-term memory, stacked/bidirectional, masked padding",
            config_class=configs.LSTMConfig,
            metric="accuracy",
            higher_is_better=True,
            floor=0.95,
            tolerance=ACCURACY_POINTS,
            inputs="sequence",
            family="recurrent",  # parity: tests/test_parity_recurrent.py (masks, lengths, stacking, BPTT)
            reference="Hochreiter & Schmidhuber 1997; forget gate: Gers, Schmidhuber & Cummins 2000",
        ),
        NetworkSpec(
            name="gru",
            title="Gated recurrent unit (reset after), stacked/bidirectional, masked padding",
            config_class=configs.GRUConfig,
            metric="accuracy",
            higher_is_better=True,
            floor=0.95,
            tolerance=ACCURACY_POINTS,
            inputs="sequence",
            family="recurrent",  # parity: tests/test_parity_recurrent.py (masks, lengths, stacking, BPTT)
            reference="Cho et al. 2014, RNN encoder-decoder",
        ),
        # --- generative networks (autoencoder, vae, gan) ---
        NetworkSpec(
            name="autoencoder",
            title="Undercomplete autoencoder, dense or convolutional (--convolutional)",
            config_class=configs.AutoencoderConfig,
            metric="mse",
            higher_is_better=False,
            # Measured (40 epochs, 3 seeds): 0.0184 +- 0.0002 Keras, 0.0185 +- 0.0008 tf; predicting the mean
            # training image scores 0.0740. Floor: a third of that baseline. Tolerance: a tenth of what the
            # floor asks beyond that baseline, (0.0740 - 0.025) / 10 = 0.0049 of mean squared pixel error.
            floor=0.025,
            tolerance=0.0049,
            inputs="image",
            reference="Hinton & Salakhutdinov 2006, reducing the dimensionality of data with neural networks",
            family="generative",
        ),
        NetworkSpec(
            name="vae",
            title="Variational autoencoder: reparameterisation, negative ELBO with analytic KL",
            config_class=configs.VAEConfig,
            metric="neg_elbo",
            higher_is_better=False,
            # Nats per image. Measured (40 epochs, 3 seeds): 24.62 +- 0.08 Keras, 24.61 +- 0.09 tf. A VAE that
            # ignores z scores at best 27.20 (cross-entropy of the mean training image, KL 0); a perfect
            # reconstruction at no KL cost 13.67 (the grey levels' own entropy, unreachable). Floor: 1.7 nats
            # (20 seed standard deviations) below the mean-image baseline. Tolerance: a tenth of what the floor
            # asks beyond that baseline, (27.20 - 25.5) / 10 = 0.17 nats per image.
            floor=25.5,
            tolerance=0.17,
            inputs="image",
            reference="Kingma & Welling 2014, auto-encoding variational Bayes",
            family="generative",
        ),
        NetworkSpec(
            name="gan",
            title="DCGAN-style GAN: transposed-conv generator with batch norm, conv discriminator",
            config_class=configs.GANConfig,
            metric="frechet_distance",
            higher_is_better=False,
            # Frechet distance to the training digits in the features of a fixed scikit-learn MLP
            # (common.evaluate.SampleJudge), 360 samples. Held-out real digits score 0.29 (the best reachable),
            # uniform noise 32.9, an untrained generator about 59. Measured (30 epochs, batch 32, seeds 0-4):
            # Keras 4.33 (3.08-5.60), tf 5.14 (3.73-7.67). Floor: a third of the noise distance, a sixth of the
            # untrained one, above every measured run. Tolerance: a tenth of the distance between real held-out
            # digits and uniform noise, (32.9 - 0.29) / 10 = 3.26.
            floor=10.0,
            tolerance=3.26,
            inputs="image",
            reference="Goodfellow et al. 2014, generative adversarial nets; Radford et al. 2015, DCGAN",
            family="generative",
        ),
        NetworkSpec(
            name="cgan",
            title="Conditional GAN: the DCGAN-style GAN with the class label one-hot into generator and discriminator",
            config_class=configs.CGANConfig,
            metric="conditional_accuracy",
            higher_is_better=True,
            # The share of generated images (36 per class, the evaluation's fixed latents) that a fixed scikit-learn
            # MLP trained on the real training digits (common.evaluate.SampleJudge) assigns to the class asked for.
            # Held-out real digits score 0.978 (the judge's own accuracy: the best reachable); a generator that
            # ignores its label scores 0.100 (chance; measured: untrained generators, real digits with shuffled
            # labels). Measured (`twinnets compare cgan --seeds 5`, 40 epochs): Keras 0.942 +- 0.023 (0.906-0.969),
            # tf 0.926 +- 0.012 (0.914-0.947); Frechet distance 4.57 +- 1.15 / 4.86 +- 0.84 (the gan's floor: 10).
            # Floor (the issue's): 0.85, under every measured run. Tolerance:
            # the GAN's rule, a tenth of the distance between the best reachable and the trivial generator,
            # (0.978 - 0.100) / 10 = 0.088. Not ACCURACY_POINTS: that resolves a fixed classifier on fixed real
            # images; here each trained generator draws new images, and its seed-to-seed spread (0.012-0.039
            # std) alone is as large as 0.02. The Frechet distance is reported beside it, as for the gan.
            floor=0.85,
            tolerance=0.088,
            inputs="image",
            family="conditional",  # parity: tests/test_parity_cgan.py (build takes the classes; labels into both players)
            reference="Mirza & Osindero 2014, conditional generative adversarial nets",
        ),
        NetworkSpec(
            name="wgan_gp",
            title="Wasserstein GAN with gradient penalty: gan's generator, its discriminator as a critic, n_critic steps",
            config_class=configs.WGANGPConfig,
            metric="frechet_distance",
            higher_is_better=False,
            # The gan's judge and scale (common.evaluate.SampleJudge, 360 samples: held-out real digits 0.29,
            # uniform noise 32.9, an untrained generator about 59). Measured (`twinnets compare wgan_gp --seeds 3`,
            # 10 epochs, n_critic 5): Keras 2.94 +- 0.93 (2.02-4.21), tf 2.56 +- 0.64 (2.04-3.45). Floor: the gan's,
            # a third of the noise distance, above every measured run of either network. Tolerance: the gan's, a
            # tenth of the distance between real held-out digits and uniform noise, (32.9 - 0.29) / 10 = 3.26.
            floor=10.0,
            tolerance=3.26,
            inputs="image",
            reference="Gulrajani et al. 2017, improved training of Wasserstein GANs; Arjovsky et al. 2017, Wasserstein GAN",
            family="generative",
        ),
        # --- energy models (rbm) ---
        NetworkSpec(
            name="rbm",
            title="Restricted Boltzmann machine (Bernoulli-Bernoulli), CD-k or persistent CD, exact log-likelihood",
            config_class=configs.RBMConfig,
            metric="log_likelihood",  # mean test log p(v) of the binarised digits, nats per image, exact (log Z summed)
            higher_is_better=True,
            # Nats per 64-pixel image (common.evaluate.rbm_scores, 360 test digits, exact log Z over 2^16 hidden states).
            # Independent pixels at their training means score -24.58 (log_likelihood_independent_pixels in every
            # run); scikit-learn's BernoulliRBM with our n_components, learning_rate, batch_size and epochs as n_iter
            # scores -21.21 / -20.49 / -20.80 (seeds 0-2, tests/test_parity_rbm.py recomputes it). Measured,
            # `twinnets compare rbm --seeds 5` (defaults: PCD, 16 hidden, 50 epochs, cosine from 0.1): Keras -19.20 +-
            # 0.06 (worst -19.29), tf -19.21 +- 0.07 (worst -19.33). Floor: -20.0, above every scikit-learn run and
            # 4.58 nats above independent pixels, 0.67 under the worst measured run.
            floor=-20.0,
            # A tenth of what the floor asks beyond independent pixels, (24.58 - 20.0) / 10 = 0.46 nats per image: the
            # two implementations' mean probabilities of a test digit may differ by a factor of e^0.46 = 1.58, 0.007
            # nats per pixel. Seed-to-seed std is ~0.07, so 3 seeds resolve it (standard error of the difference ~0.05).
            tolerance=0.46,
            inputs="image",
            family="energy",  # parity: tests/test_parity_rbm.py (all four levels, injected Gibbs noise, sklearn)
            # float32 only: the CD statistics are differences of nearly equal batch means, and sampling compares
            # uniforms with probabilities; in 16 bits both round differently on each side (not attempted).
            precisions=("float32",),
            reference="Smolensky 1986; Hinton 2002, contrastive divergence; Tieleman 2008, persistent CD",
        ),
        # --- deep belief network (a stack of rbm's RBMs) ---
        NetworkSpec(
            name="dbn",
            title="Deep belief network: RBMs stacked greedily, unrolled into a classifier and fine-tuned; vs scratch",
            config_class=configs.DBNConfig,
            # Test accuracy of the pretrained, fine-tuned classifier; the run's metrics also hold scratch_accuracy
            # (the same classifier from random weights, same fine-tuning budget, same run), pretraining_gain and
            # the frechet_distance of its samples (the gan's judge: held-out real digits 0.29, uniform noise 32.9).
            # Measured, `twinnets compare dbn --seeds 3` (defaults): Keras 0.9787 +- 0.0013 (0.9778-0.9806), tf
            # 0.9787 +- 0.0035 (0.9750-0.9833); scratch 0.9750 on both; Frechet distance 7.8 / 8.6.
            metric="accuracy",
            higher_is_better=True,
            # The floor; under every measured seed of both: `... --seeds 5`, worst Keras 0.9750, tf 0.9722 (seed 3,
            # 10 of 360 wrong: one more and it misses). Seeds 0-2, the suite's, keep a test image of margin or more.
            floor=0.97,
            # ACCURACY_POINTS, as for every classifier: two percentage points, 7 of digits' 360 test images.
            tolerance=ACCURACY_POINTS,
            inputs="image",
            family="dbn",  # parity: tests/test_parity_dbn.py (all four levels: stack, unrolled classifier, samples)
            # float32 only: its RBMs are (see rbm above).
            precisions=("float32",),
            reference="Hinton, Osindero & Teh 2006, a fast learning algorithm for deep belief nets; "
                      "Hinton & Salakhutdinov 2006",
        ),
        # --- character-level language model (charlm) ---
        NetworkSpec(
            name="charlm",
            title="Character-level language model and generator: embedding, LSTM/GRU/RNN layers, softmax per step",
            config_class=configs.CharLMConfig,
            # Test cross-entropy per predicted character (nats, the mean over the real characters of the 1,000 test
            # strings: 12,829 predictions) divided by the exact optimum on the same positions, -log p(next | prefix)
            # under the grammar (common.evaluate.grammar_optimum: 0.3690 nats). 1.0 is the best any model can do.
            # The run's metrics also hold cross_entropy, bits_per_character, optimum and acceptance: the share of
            # `samples` strings generated from <start> B at `temperature` that the grammar accepts.
            # On real text (tiny_shakespeare, a .txt file) the headline is bits_per_character, with no floor.
            # Measured, `twinnets compare charlm --seeds 8` (defaults: one LSTM of 64 units, 14 epochs, cosine from
            # 2e-2): Keras 1.0080 +- 0.0005 (worst 1.0087), tf 1.0076 +- 0.0007 (worst 1.0087); acceptance of 1,000
            # strings at the default temperature 0.8: Keras 0.996-0.999, tf 0.994-0.998.
            metric="ce_over_optimum",
            higher_is_better=False,
            # The floor: within 3% of the optimum. A model that knows the grammar but forgets the second
            # symbol (1/2 on T and P before the last E) scores 1.1464 (0.4230 nats), a context-free one (character
            # frequencies) 5.47: clearing 1.03 takes remembering the symbol across the string. The acceptance floor,
            # 0.98 (the issue's), is checked on the same runs by tests/test_parity_charlm.py.
            floor=1.03,
            # A tenth of what forgetting the second symbol costs, (1.1464 - 1) / 10 = 0.0146 ~ 0.015 of the optimum:
            # 0.0055 nats per character, one string's long dependency in ten (python -c "from common import data,
            # evaluate; d = data.load('reber'); print(evaluate.reber_baselines(d))").
            tolerance=0.015,
            inputs="sequence",
            family="charlm",  # parity: tests/test_parity_charlm.py (all four levels, greedy, beam search, sampling)
            reference="Elman 1990; Hochreiter & Schmidhuber 1997 (LSTM, the embedded Reber grammar); "
                      "Graves 2013, generating sequences with recurrent neural networks",
        ),
        # --- sequence to sequence (seq2seq) ---
        NetworkSpec(
            name="seq2seq",
            title="LSTM encoder-decoder with Luong dot-product attention (--no-attention), greedy or beam search",
            config_class=configs.Seq2SeqConfig,
            # The share of the 1,000 test dates whose decoded ISO form is exactly right (common.evaluate.translation;
            # cer, the character error rate, beside it). Test dates occur in no training pair, in any format.
            metric="exact_match",
            higher_is_better=True,
            # The floor, on dates with attention. Measured over seeds 0-7 (each implementation's train at the
            # defaults, as `twinnets compare seq2seq --seeds 8`): Keras 0.993-1.000 (mean 0.998), tf 0.995-1.000 (mean
            # 0.999); seeds 0-23 on one thread: Keras 0.990-1.000, tf 0.982-1.000. Without attention (`... --seeds 3
            # --no-attention`): Keras 0.614-0.808, tf 0.803-0.858: the floor asks for attention. Where the two differ
            # at a seed, it is the draw of initial weights: at seed 3 (5 epochs, cosine decay) Keras 0.904, tf 0.963, and
            # Keras trained from tf's draw 0.963, tf from Keras's 0.904 (same data order; tests/conftest.py train_from).
            floor=0.95,
            # ACCURACY_POINTS: exact match is an accuracy over whole sequences; two points are 20 of the 1,000 test dates.
            tolerance=ACCURACY_POINTS,
            inputs="pairs",
            family="seq2seq",  # parity: tests/test_parity_seq2seq.py (all four levels, masks, greedy, beam, sampling)
            # float32 only: greedy and beam search compare summed log-probabilities, and in 16 bits near-ties
            # between two characters round differently on the two sides, so "identical ids" could not be asserted
            # (not attempted).
            precisions=("float32",),
            reference="Sutskever, Vinyals & Le 2014, sequence to sequence learning with neural networks; "
                      "Luong, Pham & Manning 2015, effective approaches to attention-based NMT",
        ),
        # --- time-series forecasting (forecaster) ---
        NetworkSpec(
            name="forecaster",
            title="Time-series forecaster: LSTM over a window of past values -> the next H values (direct multi-output)",
            config_class=configs.ForecasterConfig,
            # Test RMSE of the H = 10 step forecasts (all 10 steps of every test window, in the series' units) divided
            # by the RMSE of persistence (the window's last value repeated) on the same windows (common.evaluate.
            # forecasting; per-step RMSE and NRMSE beside it). Persistence itself scores 1.0.
            metric="rmse_over_persistence",
            higher_is_better=False,
            # The floor, on Mackey-Glass at H = 10: an RMSE at least 3x lower than persistence's. Measured,
            # `twinnets compare forecaster --seeds 8` (defaults, one thread): Keras 0.1075 +- 0.0155 (worst 0.1313),
            # tf 0.1111 +- 0.0118 (worst 0.1300): RMSE 0.020 against persistence's 0.184, NRMSE 0.09.
            floor=1 / 3,
            # A tenth of what the floor asks beyond persistence, (1 - 1/3) / 10 = 0.067 of persistence's RMSE
            # (persistence's RMSE on the default test windows is 0.184, so 0.012 in the series' units; seed-to-seed
            # std is ~0.015, so 3 seeds resolve it: standard error of the difference of means ~0.011).
            tolerance=(1 - 1 / 3) / 10,
            inputs="sequence",
            family="forecaster",  # parity: tests/test_parity_forecaster.py (all four levels, forecasts, export)
            # float32 only: the forecasts are compared to 1e-5 in the series' units on both sides, and no 16-bit
            # variant of them was attempted.
            precisions=("float32",),
            reference="Hochreiter & Schmidhuber 1997 (LSTM); data: Mackey & Glass 1977, oscillation and chaos in "
                      "physiological control systems",
        ),
        # --- gesture recognition from motion sensors (gesture) ---
        NetworkSpec(
            name="gesture",
            title="Gesture recognition: masked LSTM/GRU (--cell) over 3-axis motion traces of varying length",
            config_class=configs.GestureConfig,
            # Test accuracy on the 600 generated test traces (6 balanced classes). The majority class scores 1/6;
            # scikit-learn's LogisticRegression on per-trace summary features (mean and std of each axis over the
            # real steps, and length / 80; LogisticRegression(max_iter=2000) fit on the 1,500 training traces) scores
            # 0.643: it cannot tell a left from a right swipe, whose summaries match; telling them takes the order.
            metric="accuracy",
            higher_is_better=True,
            # The floor. Measured, `twinnets compare gesture --seeds 8` (defaults: one GRU of 32 units, 8 epochs,
            # one thread): Keras 0.9927 +- 0.0033 (worst 0.9883), tf 0.9898 +- 0.0070 (worst 0.9767, 14 of 600 wrong);
            # ~4 s of training a run. Every seed of both clears it by 16 test traces or more.
            floor=0.95,
            tolerance=ACCURACY_POINTS,  # two percentage points: 12 of the 600 test traces
            inputs="sequence",
            # Its own family: the recurrent classifier's build (keras_impl/recurrent.py, tf_impl/recurrent.py) with the
            # cell chosen by config.cell, which tests/test_parity_recurrent.py (one network = one cell) cannot express;
            # parity: tests/test_parity_gesture.py (all four levels, mixed-length batches, padding invariance, npz).
            family="gesture",
            # float32 only: its parity file checks float32; the 16-bit paths of the recurrent stack are the lstm's and
            # gru's (tests/test_precision.py), not re-run here.
            precisions=("float32",),
            reference="Hochreiter & Schmidhuber 1997 (LSTM); Cho et al. 2014 (GRU); recurrent nets on accelerometer "
                      "traces: Ordonez & Roggen 2016, DeepConvLSTM",
        ),
        # --- named-entity recognition (tagger) ---
        NetworkSpec(
            name="tagger",
            title="Named-entity recognition: embedding, bidirectional LSTM, a softmax over IOB2 tags at every token",
            config_class=configs.TaggerConfig,
            # Entity-level F1 on the 1,000 generated test sentences, by seqeval (default, conlleval mode: an entity
            # counts when its type and both boundaries are right), over the real tokens only (common/tagging.py);
            # precision, recall and token accuracy beside it. Every test name is unseen in training. Baselines
            # (common/tagging.py baselines, scored by the same seqeval): every token "O" scores F1 0 (token accuracy
            # 0.809); each word's most frequent training tag (unseen words "O") F1 0 too (token accuracy 0.851): the
            # names are new, so a memory of the training words finds none of them.
            metric="f1",
            higher_is_better=True,
            # The floor. Measured, `twinnets compare tagger --seeds 8` (defaults: embedding 32, one BiLSTM of
            # 32 units each way, 3 epochs, one thread; the run of `python -m common.report --networks tagger --seeds
            # 8`): Keras 0.9985 +- 0.0012 (worst 0.9959), tf 0.9981 +- 0.0016 (worst 0.9950); ~5 s of training a run.
            # Every seed of both clears it by 60 standard deviations or more: the templates' contexts can be learnt in
            # full, and what the floor asks is that unseen names be found from them at all.
            floor=0.90,
            # ACCURACY_POINTS: two points of F1, as of an accuracy (about 30 of the test set's ~1,500 entities).
            tolerance=ACCURACY_POINTS,
            inputs="sequence",
            family="tagger",  # parity: tests/test_parity_tagger.py (all four levels, mixed lengths, padding, decoding)
            # float32 only: its parity file checks float32; the 16-bit paths of the embedding and the LSTM are charlm's
            # and lstm's (tests/test_parity_charlm.py, tests/test_precision.py), not re-run here.
            precisions=("float32",),
            reference="Huang, Xu & Yu 2015, bidirectional LSTM-CRF models for sequence tagging; Lample et al. 2016; "
                      "data format and score: Tjong Kim Sang & De Meulder 2003, the CoNLL-2003 shared task",
        ),
        # --- object detection (detection) ---
        NetworkSpec(
            name="detection",
            title="Object detection: CenterNet, anchor-free (centre heatmaps, sizes and offsets at stride 4)",
            config_class=configs.DetectionConfig,
            # COCO mAP@0.5 by pycocotools on the 500 generated test scenes (1-4 objects each), from the shared decoder
            # (common/detection.py: 3x3 max-pool peaks, top 100, score >= 0.05); mAP@[.5:.95] and mAP@0.75 beside it.
            # Baseline (common/detection.py centred_box_baseline): one centred box of the mean training size and the
            # most common class per image.
            metric="map_50",
            higher_is_better=True,
            # The floor. Measured, `python -m common.report --networks detection --seeds 8` (defaults: 16 epochs,
            # 35-60 s of training a run on a shared 2-core Intel Xeon): Keras 0.9528 +- 0.0176 (worst 0.9089), tf
            # 0.9484 +- 0.0108 (worst 0.9233); mAP@[.5:.95] 0.631 / 0.642; the centred box 0.0001. Every seed of both
            # clears it by 0.10 or more, 8.7 / 13.8 standard deviations of its spread. At 12 epochs (seeds 0-3): Keras
            # 0.896-0.950, tf 0.891-0.958; at a rate of 5e-3 for 10 epochs one tf seed in 8 ended at 0.768 (configs.py).
            floor=0.80,
            # A tenth of what the floor asks beyond the trivial baseline (the centred box, 0.0001), as for the
            # reconstruction and forecasting entries: (0.80 - 0.0001) / 10, rounded: 0.08. Not ACCURACY_POINTS: mAP@0.5 is no
            # accuracy, and its seed-to-seed std (0.011-0.025, above) puts two points out of reach of the suite's two
            # seeds (at 12 epochs and 4 seeds, the report's TOST asked ~35 seeds a side to decide +-0.02).
            tolerance=0.08,
            inputs="image",
            family="detection",  # parity: tests/test_parity_detection.py (all four levels, non-square inputs, decoding)
            # float32 only: its parity file checks float32; no 16-bit variant was attempted.
            precisions=("float32",),
            reference="Zhou, Wang & Krahenbuhl 2019, objects as points (CenterNet); focal loss: Lin et al. 2017; "
                      "score: the COCO detection evaluation (pycocotools), Lin et al. 2014",
        ),
        # --- semantic segmentation (segmentation) ---
        NetworkSpec(
            name="segmentation",
            title="Semantic segmentation: a small U-Net, transposed convolutions up, skips concatenated",
            config_class=configs.SegmentationConfig,
            # Mean IoU over the classes (background, disc, square, triangle) from the confusion matrix of every test
            # pixel of the 400 generated test scenes (common/segmentation.py); pixel accuracy beside it. Baseline:
            # every pixel background (the training pixels' most frequent class, 83% of the pixels): mIoU 0.2083
            # (background's IoU 0.833, each shape's 0).
            metric="mean_iou",
            higher_is_better=True,
            # The floor. Measured, `python -m common.report --networks segmentation --seeds 8` (defaults: 8-16-32
            # channels, batch norm, cross-entropy + soft Dice, 10 epochs, batch 16, Adam 3e-3; 39-80 s of training a
            # run on the 2-core Intel machine): Keras 0.9686 +- 0.0076 (worst 0.9560), tf 0.9611 +- 0.0201 (worst
            # 0.9088, seed 7); seeds 8-15, the same way: Keras 0.9565 +- 0.0208 (worst 0.9029), tf 0.9548 +- 0.0330
            # (worst 0.8754). The worst of 32 runs clears it by 0.075. A network that finds every object pixel but
            # not its class (all of them called square, the most frequent shape) would score 0.36 (background 1, square 0.43, the
            # others 0): the floor asks for the shapes told apart.
            floor=0.80,
            # A tenth of what the floor asks beyond the trivial baseline (all background, 0.2083), as for detection,
            # the reconstruction and the forecasting entries: (0.80 - 0.2083) / 10, rounded: 0.06. Mean IoU is no
            # accuracy. (It was three points, set from a first spread of 4 seeds; over 16 seeds a side, two runs in 16
            # end at 0.875-0.91 on either side (the loss's plateau left late), which puts a two-seed mean 0.03-0.05
            # from the other side's.)
            tolerance=0.06,
            inputs="image",
            family="segmentation",  # parity: tests/test_parity_segmentation.py (all four levels, odd sizes, padding)
            precisions=("float32",),  # float32 only: its parity file checks float32
            reference="Ronneberger, Fischer & Brox 2015, U-Net: convolutional networks for biomedical image "
                      "segmentation; Long, Shelhamer & Darrell 2015, fully convolutional networks",
        ),
        # --- speech recognition with CTC (speech) ---
        NetworkSpec(
            name="speech",
            title="Speech recognition: log-mel frames, bidirectional LSTM, CTC over digit transcripts",
            config_class=configs.SpeechConfig,
            # Label error rate (summed edit distances / summed reference lengths, jiwer's cer over the digit
            # strings) of the best-path transcripts of the 500 generated test clips (common/speech.py); prefix beam
            # search's LER and both sequence accuracies beside it. Baselines (common/speech.py baselines): the empty
            # transcript scores 1.0, the most common training transcript (the single digit "2") 0.904.
            metric="ler",
            higher_is_better=False,
            # The floor. Measured, `python -m common.report --networks speech --seeds 4` (defaults: one BiLSTM
            # of 32 units each way, 8 epochs, frames every 32 ms; a 2-core machine shared with other work): Keras
            # 0.0129 +- 0.0022 (worst 0.0161, 21 of the 1,301 test digits), tf 0.0115 +- 0.0016 (worst 0.0138); 23-51 s
            # of training a run there. Every seed of both clears it by 38 standard deviations or more.
            floor=0.10,
            # ACCURACY_POINTS: two points of LER, as of an accuracy (about 26 of the test set's 1,301 digits).
            tolerance=ACCURACY_POINTS,
            inputs="sequence",
            family="speech",  # parity: tests/test_parity_speech.py (all four levels, mixed lengths, CTC, decoding)
            # float32 only: its parity file checks float32 (the CTC loss is computed in float32 on both sides).
            precisions=("float32",),
            reference="Graves, Fernandez, Gomez & Schmidhuber 2006, connectionist temporal classification; "
                      "Graves, Mohamed & Hinton 2013, speech recognition with deep recurrent neural networks",
        ),
        # --- transfer learning ---
        NetworkSpec(
            name="transfer",
            title="Transfer learning: pretrain a cnn base, freeze it under a new head, fine-tune its top; vs scratch",
            config_class=configs.TransferConfig,
            metric="fine_tuning_accuracy",  # on the target test set; metrics also hold scratch and feature extraction
            higher_is_better=True,
            floor=0.90,  # measured: 0.94-0.96 on every seed of both (3 seeds each)
            tolerance=ACCURACY_POINTS,
            inputs="image",
            family="transfer",  # parity: tests/test_parity_transfer.py (per phase, frozen variables, checkpoints)
            reference="Yosinski et al. 2014, how transferable are features in deep neural networks?",
        ),
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


def headline(network, metrics, default):
    """The metric a run reports first: the network's registry metric where `metrics` holds it (the
    regression network's r2), else `default` (a recurrent network on the adding problem: mse)."""
    spec = NETWORKS.get(network)
    return spec.metric if spec is not None and spec.metric in metrics else default
