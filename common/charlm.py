"""What the two charlm implementations share: the loss's reduction, generation, and `twinnets generate`.

The loss (keras_impl/charlm.py RealCharacterCrossEntropy, tf_impl/charlm.py real_character_loss):

    loss = sum over the real characters (y != 0) of -log softmax(logits)[y]  /  real characters in the global batch

the mean over real characters only: padding neither adds to the sum nor to the count. Under a
tf.distribute strategy each replica divides its sum by the count of the *global* batch (an
all-reduce, `real_characters`), so the replicas' summed gradients are one device's gradient;
Keras's own masked mean would divide by each replica's count.

Generation: each implementation builds `step(ids, state) -> (log_probs, state)` from its own
layers, one character at a time (keras_impl: the Keras cells; tf_impl: its cells), and the
same common.decoding.sample draws from both with the same injected uniforms. The prompt is
fed after the start id; a string ends when the end id is drawn.
"""
import json
import os

import numpy as np
import tensorflow as tf

from common import decoding, modules, registry
from common.checkpoints import FINGERPRINT, CheckpointError
from common.configs import ConfigError
from common.evaluate import EVAL_SEED
from common.vocabulary import Vocabulary

NETWORK = "charlm"
VOCABULARY_FILE = "vocabulary.json"  # beside the checkpoint of `twinnets train charlm --checkpoint-dir DIR`
ACCEPTANCE_PROMPT = "B"  # a Reber string's first symbol: generation for the acceptance metric starts from <start> B
UNREADABLE = "\ufffd"  # a sampled padding or start id, shown in a generated text (no grammar accepts it)


def real_characters(count):
    """In replica context: the real characters of this step's global batch (one device: `count` itself)."""
    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return count
    return context.all_reduce(tf.distribute.ReduceOp.SUM, count)


def generation_length(data):
    """Characters generated at most per string for the acceptance metric: twice the longest training string."""
    return 2 * data.info.input_shape[0]


def text_of(vocabulary, ids):
    """(text, finished) of sampled ids: characters up to the end id; a padding or start id shows as UNREADABLE."""
    characters = []
    for token in ids:
        if token == Vocabulary.END:
            return "".join(characters), True
        characters.append(vocabulary.decode([token]) if token >= len(Vocabulary.RESERVED) else UNREADABLE)
    return "".join(characters), False


def sample_texts(step, initial_state, vocabulary, prompt, count, length, temperature, seed):
    """`count` texts, each `prompt` followed by up to `length` sampled characters; and whether each drew the end id.

    step, initial_state: an implementation's step_function(model). The uniforms come from
    common.decoding.uniforms(seed, count, length): the same texts from both implementations
    when their steps agree.
    """
    prompt_ids = np.tile(vocabulary.encode(prompt, start=True), (count, 1))  # (count, 1 + len(prompt))
    uniforms = decoding.uniforms(seed, count, length)
    rows = decoding.sample(step, initial_state(count), prompt_ids, length, temperature, uniforms,
                           end_id=Vocabulary.END)
    texts, finished = zip(*(text_of(vocabulary, row) for row in rows))
    return [prompt + text for text in texts], list(finished)


def acceptance_texts(step, initial_state, data, config):
    """The strings the acceptance metric judges: config.samples from <start> B at config.temperature, fixed uniforms;
    one that never drew the end id is marked unfinished (UNREADABLE appended), so the grammar refuses it."""
    texts, finished = sample_texts(step, initial_state, data.vocabulary, ACCEPTANCE_PROMPT, config.samples,
                                   generation_length(data), config.temperature, EVAL_SEED)
    return [text if done else text + UNREADABLE for text, done in zip(texts, finished)]


def save_vocabulary(directory, vocabulary):
    """DIR/vocabulary.json beside a checkpoint (the directory already claimed for this run)."""
    vocabulary.save(os.path.join(directory, VOCABULARY_FILE))


# --- twinnets generate ---


def checkpointed_config(directory, impl):
    """The CharLMConfig a checkpoint directory was trained with (its fingerprint), or a CheckpointError."""
    path = os.path.join(directory, FINGERPRINT)
    if not os.path.isfile(path):
        raise CheckpointError(f"{directory} holds no charlm checkpoint; train one with `twinnets train charlm --impl "
                              f"{impl} --checkpoint-dir {directory}`")
    try:
        with open(path) as stream:
            fingerprint = json.load(stream)
        network, trained_with, settings = fingerprint["network"], fingerprint["impl"], fingerprint["config"]
    except (ValueError, KeyError, TypeError):
        raise CheckpointError(f"{path} is not a twinnets checkpoint fingerprint") from None
    if network != NETWORK:
        raise CheckpointError(f"{directory} holds a checkpoint of {network}, not of {NETWORK}")
    if trained_with != impl:
        raise CheckpointError(f"{directory} holds a charlm checkpoint of --impl {trained_with}; generate with "
                              f"--impl {trained_with}")
    config_class = registry.get(NETWORK).config_class
    fields = {name: tuple(value) if isinstance(value, list) else value for name, value in settings.items()}
    try:
        return config_class(**fields)
    except (TypeError, ConfigError) as error:
        raise CheckpointError(f"{path} does not hold a charlm config ({error})") from None


def generate(impl, checkpoint_dir, *, prompt="", length=200, temperature=1.0, seed=0, count=1):
    """`twinnets generate charlm`: texts sampled from the model trained into checkpoint_dir by `impl`."""
    if length < 1:
        raise ConfigError(f"length must be at least 1, got {length}")
    if not 0.0 < temperature < float("inf"):  # NaN too
        raise ConfigError(f"temperature must be positive (and finite), got {temperature}")
    if seed < 0:
        raise ConfigError(f"seed must be >= 0, got {seed}")
    config = checkpointed_config(checkpoint_dir, impl)
    vocabulary = Vocabulary.load(os.path.join(checkpoint_dir, VOCABULARY_FILE))
    vocabulary.encode(prompt)  # a character outside the vocabulary: a DataError naming it, before any model is built
    module = modules.network_module(NETWORK, impl)
    model = module.restore(config, vocabulary.size, checkpoint_dir)
    step, initial_state = module.step_function(model)
    texts, _ = sample_texts(step, initial_state, vocabulary, prompt, count, length, temperature, seed)
    return texts
