"""What every test shares: quiet TensorFlow, the CLI runner, the trained runs, and how the suite spreads over cores.

The suite runs on every core (`-n auto`, pytest-xdist, in pyproject.toml). Each worker
gives TensorFlow one intra-op thread and one inter-op thread (and the processes it starts
inherit both), so two workers on two cores do not fight over them. Most steps here are
small and dispatch-bound, where a second process buys more than a second thread
(measured: 977 s serial, 587 s on two workers; compute-bound tests such as the adding
problem gain little). The inter-op pool's default, a thread per core, cost the suite 13%:
759 s against 660 s, the same tree, one after the other on a quiet machine (2026-12-05).
Tests spread one by one (`--dist loadgroup`), except groups: a module whose module-scoped
fixture trains a model keeps its tests on one worker (`pytestmark = ...xdist_group(...)`),
so the model is trained once; the learning tests
are grouped per network (`learning_group`), so that the networks' trainings spread over
the workers while every test of one network shares its runs (`learned`). Groups need
pytest < 9.2 (pyproject.toml says why).
"""
import os
import subprocess
import sys

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "1")  # read by TensorFlow at start; subprocesses inherit them
    os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")

import common  # noqa: E402,F401  (imports TensorFlow quietly before anything else)

if os.environ.get("PYTEST_XDIST_WORKER"):
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(int(os.environ["TF_NUM_INTRAOP_THREADS"]))
    tf.config.threading.set_inter_op_parallelism_threads(int(os.environ["TF_NUM_INTEROP_THREADS"]))

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_cli(*args, cwd=None, timeout=300, env=None):
    """Run a command as a user would (a fresh process); returns CompletedProcess with text output.
    env: variables set for that process on top of this one's."""
    env = dict(os.environ, PYTHONPATH=REPO, **(env or {}))
    return subprocess.run(
        [sys.executable, *args], cwd=cwd or REPO, env=env, capture_output=True, text=True, timeout=timeout,
    )


@pytest.fixture
def cli():
    return run_cli


def run_main(capsys, argv):
    """`twinnets ARGV` in this process (common.twinnets.main): (exit code, stdout, stderr)."""
    from common import twinnets

    try:
        code = twinnets.main(argv)
    except SystemExit as exit_:  # argparse errors
        code = exit_.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def module_main(capsys):
    """`python -m MODULE ARGV` in this process (no interpreter and TensorFlow start-up): (exit code, stdout, stderr).

    For tests about what a command does; the few tests about the process itself (start-up
    noise, no traceback, SIGKILL) use `cli`.
    """
    import importlib

    def run(module, *argv):
        try:
            code = importlib.import_module(module).main(list(argv))
        except SystemExit as exit_:  # argparse errors
            code = exit_.code
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


def learning_group(network):
    """The xdist group of every learning test of `network`: one worker trains it once, for all of them."""
    return pytest.mark.xdist_group(f"learning-{network}")


_LEARNED = {}

# The suite trains these networks for fewer epochs than their defaults: the same floor and the same
# tolerance, asked of less training (a stricter check, not a looser one), where the shorter runs still
# clear the floor with room. Their defaults are measured by the README's report (python -m common.report).
# Measured over seeds 0-2, one thread per process as under xdist (`twinnets compare NET --epochs E`):
SUITE_EPOCHS = {
    "wgan_gp": 5,  # default 10. Frechet distance Keras 3.88-4.41, tf 2.93-4.44 (10 epochs: 1.4-4.2); floor 10
    "gru": 15,  # default 30. Accuracy Keras 0.964-0.975, tf 0.967-0.978 (30 epochs, 8 seeds: 0.978 / 0.973); floor 0.95
    "vae": 25,  # default 40. -ELBO Keras 24.75-24.88, tf 24.72-24.86 (40 epochs, 8 seeds: 24.60 / 24.62); floor 25.5
    "autoencoder": 25,  # default 40. MSE Keras 0.0199-0.0205, tf 0.0195-0.0212 (40 epochs: 0.0185 / 0.0182); floor 0.025
    # default 14 (its cosine over 10). ce_over_optimum Keras 1.0097-1.0114, tf 1.0092-1.0137 (14 epochs, 8 seeds:
    # 1.0062-1.0087); acceptance (1,000 strings at 0.8) 0.988-0.997 (14: 0.994-0.999); floors 1.03 and 0.98
    "charlm": 10,
    # default 16. mAP@0.5 at 12 epochs, seeds 0-3 (`python -m common.report --networks detection --seeds 4` at 12):
    # Keras 0.896-0.950, tf 0.891-0.958; floor 0.80
    "detection": 12,
}


# Seeds of each level-4 run: three where the outcome is in doubt, two where the README's report (python -m
# common.report, seeds 0-7) has every seed of both sides far past the floor, at least five standard deviations of
# its spread, so that a third seed adds a check that cannot be close (the floor and tolerance stay the same):
# (Keras / tf) charlm 44 / 31 sd, seq2seq 19 / 29, forecaster 14 / 19, autoencoder 21 / 11, vae 12 / 13, wgan_gp
# 11 / 12 (its 5 suite epochs: 2.9-4.4 against 10). Issue 19 sets charlm's and seq2seq's floors "over >= 2 seeds".
# Not rbm (its scikit-learn comparison shares the runs), nor transfer, gan and the rest (< 5 sd, or a tolerance the
# observed difference comes within 3 standard errors of, at two seeds).
# seq2seq is back at three: on an Intel Sapphire Rapids machine (its rounding differs) Keras's seeds 0 and 1 ended
# at 0.968 and 0.989, seeds 0-7 0.9935 +- 0.0103 (tf 0.9990 +- 0.0016, equivalent vs 0.02), 4.2 sd above the floor,
# and the two suite seeds' mean difference, -0.021, failed the 0.02 check in a clean CI run; seeds 0-2: -0.014.
# gesture: (Keras / tf) 13 / 5.7 sd (`twinnets compare gesture --seeds 8`: 0.9927 +- 0.0033, 0.9898 +- 0.0070;
# floor 0.95).
# tagger: (Keras / tf) 82 / 61 sd (`twinnets compare tagger --seeds 8`: F1 0.9985 +- 0.0012, 0.9981 +- 0.0016; floor 0.90).
# segmentation: the issue asks ">= 2 seeds". `python -m common.report --networks segmentation --seeds 8`: mIoU Keras
# 0.9686 +- 0.0076, tf 0.9611 +- 0.0201, worst 0.9560 / 0.9088 (seeds 8-15: worst 0.9029 / 0.8754), all of the 32 runs
# 0.075 or more above the 0.80 floor; tolerance 0.06. At its default 10 epochs: the runs that leave the loss's plateau
# late are the low ones, and fewer epochs would cut more of them short.
# detection: (Keras / tf) 6.5 / 5.2 sd at its suite's 12 epochs (seeds 0-3: mAP@0.5 0.9267 +- 0.0196, 0.9283 +- 0.0247;
# floor 0.80); the issue asks for >= 2 seeds. (At 8 epochs Keras's seeds 0-2 end at 0.70-0.88.)
# speech: (Keras / tf) 40 / 55 sd (`python -m common.report --networks speech --seeds 4`: LER 0.0129 +- 0.0022,
# 0.0115 +- 0.0016; floor <= 0.10), at its default 8 epochs: not fewer, because at 6 (`twinnets compare speech --epochs
# 6 --seeds 3`, measured with frames every 16 ms) the floor was still far (Keras 0.018 / 0.014 / 0.012, tf 0.038 /
# 0.021 / 0.025) but the two sides' means differed by 0.013 against the 0.02 tolerance, TOST undecided.
SUITE_SEEDS = {"charlm": 2, "forecaster": 2, "autoencoder": 2, "vae": 2, "wgan_gp": 2, "gesture": 2, "tagger": 2,
               "detection": 2, "segmentation": 2, "speech": 2}


def seeds_of(network):
    return SUITE_SEEDS.get(network, 3)


def learn(network, seeds=None, **overrides):
    """`twinnets compare` of `network` over seeds 0..seeds-1 (default: seeds_of(network)), trained once per worker
    and shared (for SUITE_EPOCHS[network] epochs unless the overrides say otherwise)."""
    from common import compare

    seeds = seeds_of(network) if seeds is None else seeds
    if network in SUITE_EPOCHS:
        overrides = {"epochs": SUITE_EPOCHS[network], **overrides}
    key = (network, seeds, tuple(sorted(overrides.items())))
    if key not in _LEARNED:
        _LEARNED[key] = compare.compare(network, seeds=seeds, overrides=overrides or None, verbose=False)
    return _LEARNED[key]


@pytest.fixture(scope="session")
def learned():
    return learn




def train_from(module, start, config, data):
    """module.train(config, data) with the model's initial weights replaced by `start` (Keras order):
    both implementations trained from the same draw, so what differs at the end is not the draw."""
    build = module.build

    def build_from_start(*args, **kwargs):
        model = build(*args, **kwargs)
        model.set_weights(start)
        return model

    module.build = build_from_start
    try:
        return module.train(config, data, verbose=0)
    finally:
        module.build = build


def pairs_file(tmp_path, lines, name="pairs.tsv", raw=None):
    """A .tsv of sentence pairs (seq2seq's file format): `lines` written as UTF-8, or the bytes `raw`."""
    path = tmp_path / name
    path.write_bytes(raw if raw is not None else "".join(line + "\n" for line in lines).encode("utf-8"))
    return str(path)


def generated_pairs(count=60):
    """Small words and their reversals, with an Anki-style attribution column: 'abc\\tcba\\tCC-BY ...'."""
    import numpy as np

    rng = np.random.default_rng(3)
    words = ["".join(rng.choice(list("abcdefgh"), size=rng.integers(2, 6))) for _ in range(count)]
    return [f"{word} go\t{word[::-1]} va\tCC-BY 2.0 (France) #{index}" for index, word in enumerate(words)]


def mean_metric(report, impl, name):
    """The mean over a compare report's runs of `impl` of one test metric."""
    import numpy as np

    return float(np.mean([run["metrics"][name] for run in report["impls"][impl]["runs"]]))


def assert_twins_agree(keras_model, tf_model, x, y, task="classification", tf_loss=None):
    """Parity level 2 after a transplant: outputs (a classifier's logits), loss and every gradient (each non-zero)
    to 1e-5. task="regression": a regressor's, by squared error (the forecaster: its H outputs). tf_loss(model, x, y):
    a network's own loss in place of tf_impl/supervised.py's (the tagger's mean over real tokens). An embedding's
    gradient (IndexedSlices) is compared as the dense tensor it stands for."""
    import numpy as np
    import tensorflow as tf

    from tf_impl import supervised

    keras_logits = keras_model(x, training=False)
    tf_logits = tf_model(x, training=False)
    assert keras_logits.shape == tf_logits.shape
    np.testing.assert_allclose(tf_logits.numpy(), keras_logits.numpy(), atol=1e-5, rtol=1e-5)

    with tf.GradientTape() as tape:
        keras_loss = keras_model.compute_loss(x=x, y=y, y_pred=keras_model(x, training=False), training=False)
    keras_grads = tape.gradient(keras_loss, keras_model.trainable_weights)
    with tf.GradientTape() as tape:
        if tf_loss is None:
            tf_loss_value = supervised.loss_fn(tf_model, x, y, training=False, task=task)
        else:
            tf_loss_value = tf_loss(tf_model, x, y)
    tf_grads = tape.gradient(tf_loss_value, tf_model.trainable_weights)

    np.testing.assert_allclose(float(tf_loss_value), float(keras_loss), atol=1e-5, rtol=1e-5)
    assert len(tf_grads) == len(keras_grads)
    for keras_grad, tf_grad, weight in zip(keras_grads, tf_grads, keras_model.trainable_weights):
        keras_grad, tf_grad = tf.convert_to_tensor(keras_grad).numpy(), tf.convert_to_tensor(tf_grad).numpy()
        assert np.abs(keras_grad).max() > 0, f"{weight.path}: zero gradient proves nothing"
        np.testing.assert_allclose(tf_grad, keras_grad, atol=1e-5, rtol=1e-5, err_msg=weight.path)
    return keras_grads


# --- the order work is handed out in ---

# pytest-xdist gives each worker the next unit of work as it finishes one, in collection order (groups of
# several tests first). A long test collected late can leave one worker running it alone at the end while
# the other waits; handed out first, the long tests are spread over the workers and the short ones fill in
# behind them (longest first: the usual heuristic for the shortest finish). These take 15-110 s each.
LONG_TESTS = (
    "test_mirrored_two_cpus_matches_one_device",  # every network under MirroredStrategy, one process
    "test_deterministic_runs_are_bit_identical_for_every_network",  # every network, twice, two processes
    "test_multiworker_on_two_processes_matches_one_process",
    "test_sigkill_then_resume_matches_an_uninterrupted_run",
    "test_mirrored_loss_scaling_matches_one_device",
    "test_cnn_learns_in_both",
)
LONG_MODULES = ("test_learning.py", "test_adding_problem.py")  # a network's trainings each


def pytest_collection_modifyitems(config, items):
    def rank(item):  # LONG_TESTS in their order (the two longest first), then LONG_MODULES, then the rest
        name = getattr(item, "originalname", item.name)
        if name in LONG_TESTS[:2]:
            return LONG_TESTS.index(name)
        if item.path.name in LONG_MODULES:
            return 2
        return 3 if name in LONG_TESTS else 4

    items.sort(key=rank)  # stable: otherwise the collection order


def build_keras_optimizer(keras_model):
    """Build a compiled model's optimizer for its trainable variables now, as keras_impl/supervised.py resumable_fit
    does before fit: left to train_on_batch, it is built inside the step's first trace, and a tf.function whose first
    trace creates variables is traced twice. Nothing else changes (the variables start at zero either way)."""
    if not keras_model.optimizer.built:
        keras_model.optimizer.build(keras_model.trainable_variables)


def assert_same_steps(keras_model, tf_model, tf_optimizer, tf_step, batches):
    """Parity level 3: from the same weights, Keras's train_on_batch and tf_impl's step (-> (loss, ...)) on the same
    (x, y) batches give the same losses and weights (1e-4) and step counts; the weights move (> 1e-2) and the loss
    falls, or the comparison would be vacuous. Keras's optimizer is built first (build_keras_optimizer)."""
    import numpy as np

    build_keras_optimizer(keras_model)
    initial = keras_model.get_weights()
    keras_losses, tf_losses = [], []
    for x, y in batches:
        keras_losses.append(keras_model.train_on_batch(x, y, return_dict=True)["loss"])
        tf_losses.append(float(tf_step(x, y)[0]))
    moved = max(np.abs(a - b).max() for a, b in zip(keras_model.get_weights(), initial))
    assert moved > 1e-2, f"the weights barely moved ({moved:.1e}): the comparison would be vacuous"
    assert np.mean(tf_losses[-5:]) < np.mean(tf_losses[:5])  # it learns
    np.testing.assert_allclose(tf_losses, keras_losses, atol=1e-4, rtol=1e-4)
    for keras_weight, tf_weight in zip(keras_model.get_weights(), tf_model.get_weights()):
        np.testing.assert_allclose(tf_weight, keras_weight, atol=1e-4, rtol=1e-4)
    assert int(tf_optimizer.iterations) == int(keras_model.optimizer.iterations) == len(batches)


# --- the per-network budget: printed, never asserted (a test must not depend on wall-clock time) ---

# The suite must stay within 12 minutes on 2 cores as the registry grows to ~25 networks: about 58
# core-seconds of tests per network (2 x 720 s / 25), its share of the shared tests included. The
# summary below adds up each test's duration under the network its id names (test_learning[cnn],
# ...[cnn-adam], transfer's own file), so a network that outgrows its share shows at the end of every
# run. (At 17 networks the suite took 694-717 s; at 18, after the cuts of SUITE_SEEDS and SUITE_EPOCHS, 757 and
# 760 s in two clean runs on 2026-12-05; one inter-op thread per process (above) took the same tree to 660 s; at 19
# (seq2seq), 723 s in a clean run; at 20 (forecaster), after Keras's training step was traced once instead of twice
# (keras_impl/supervised.py resumable_fit), 679 s, on AMD EPYC. On an Intel Sapphire Rapids machine of the same kind, at
# 22 (gesture, tagger), 861, 974 and 811 s in three clean runs, after the float16 cnn training moved out of oneDNN
# (test_precision.py); at 24 (detection, speech), 1,384 s, the unchanged networks' tests ~1.5x their 811 s-run seconds;
# at 25 (segmentation), 1,415 s, segmentation 327 core-seconds, nearly all its level-4 trainings.
# The shared per-network runs, mirrored and determinism, trace every network's training several times: about 6-7
# core-seconds a network each on AMD, ~11 and ~6 on Intel.)
BUDGET_PER_NETWORK = 2 * 720 / 25
_SECONDS = {}


def _network_of(nodeid):
    from common import registry

    module = nodeid.split("::")[0].rsplit("/", 1)[-1]
    for network in sorted(registry.NETWORKS, key=len, reverse=True):  # deep_mlp before mlp
        if (f"[{network}" in nodeid or f"-{network}]" in nodeid or f"-{network}-" in nodeid or f"_{network}." in module
                or nodeid.endswith(f"@learning-{network}")):
            return network
    return "(shared)"


def pytest_runtest_logreport(report):
    if getattr(report, "duration", None):
        network = _network_of(report.nodeid)
        _SECONDS[network] = _SECONDS.get(network, 0.0) + report.duration


def pytest_terminal_summary(terminalreporter):
    if not _SECONDS or os.environ.get("PYTEST_XDIST_WORKER"):
        return
    write = terminalreporter.write_line
    write(f"core-seconds of tests per network (budget {BUDGET_PER_NETWORK:.0f} each, for ~25 networks in 12 min on 2 cores):")
    for network, seconds in sorted(_SECONDS.items(), key=lambda item: -item[1]):
        flag = "  OVER BUDGET" if network != "(shared)" and seconds > BUDGET_PER_NETWORK else ""
        write(f"  {network:22s} {seconds:8.1f}{flag}")
