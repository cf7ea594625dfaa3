"""Decoding a sequence model one token at a time: greedy, beam search and sampling.

Shared by both implementations, so that Keras and tf_impl are decoded by exactly the same
search. Each implementation hands in a step function built from its own model:

    step(ids, state) -> (log_probs, state)

ids: int32 (B,), the previous token of each row; log_probs: (B, V), the log-softmax of the
next token; state: any nest (tuple, list, dict) of arrays or tensors whose leading
dimension is B (an LSTM's h and c, the encoder outputs attention reads, ...). Beam search
reorders the state's rows with tf.gather, so the step function never sees beams.
"""
import numpy as np
import tensorflow as tf


def uniforms(seed, batch, length):
    """The injected random stream of `sample`: (batch, length) uniforms in [0, 1)."""
    return np.random.default_rng(seed).random((batch, length))


def _rows(state, rows):
    """The state's rows `rows`, in that order (repeats allowed)."""
    def take(s):
        return np.take(s, rows, axis=0) if isinstance(s, np.ndarray) else tf.gather(s, rows)
    return tf.nest.map_structure(take, state)


def _log_probs(step, ids, state):
    log_probs, state = step(np.asarray(ids, dtype=np.int32), state)
    return np.asarray(log_probs, dtype=np.float64), state


def greedy(step, state, start_ids, end_id, max_length):
    """The most likely next token, step by step: B id lists, each ending before end_id (or at max_length)."""
    ids = np.asarray(start_ids, dtype=np.int32).reshape(-1)
    out, done = [[] for _ in ids], np.zeros(len(ids), dtype=bool)
    for _ in range(max_length):
        log_probs, state = _log_probs(step, ids, state)
        ids = np.argmax(log_probs, axis=-1).astype(np.int32)  # ties: the lower id
        for row, token in enumerate(ids.tolist()):
            if not done[row]:
                done[row] = token == end_id
                if not done[row]:
                    out[row].append(token)
        if done.all():
            break
    return out


def beam_search(step, state, start_ids, end_id, width, max_length):
    """The highest-scoring sequence of each row found by a beam of `width`: B id lists (end_id excluded).

    A hypothesis's score is the sum of its tokens' log-probabilities (no length
    normalisation). Each step extends every live hypothesis by every token and keeps the
    `width` best that do not end; those that end are set aside. A row stops when its best
    ended hypothesis scores at least its best live one (log-probabilities are <= 0, so no
    live one can overtake it), or at max_length, where live hypotheses count as ended.
    Ties go to the lower beam, then the lower token id. width 1 is greedy decoding.
    """
    if width < 1:
        raise ValueError(f"beam width must be at least 1, got {width}")
    start_ids = np.asarray(start_ids, dtype=np.int32).reshape(-1)
    batch = len(start_ids)
    state = _rows(state, np.repeat(np.arange(batch), width))  # row b * width + k is beam k of row b
    ids = np.repeat(start_ids, width)
    scores = np.full((batch, width), -np.inf)
    scores[:, 0] = 0.0  # one live hypothesis to start with, not `width` copies of it
    sequences = [[[] for _ in range(width)] for _ in range(batch)]
    ended = [[] for _ in range(batch)]  # (score, ids), in the order found
    done = np.zeros(batch, dtype=bool)
    for _ in range(max_length):
        log_probs, state = _log_probs(step, ids, state)
        vocabulary = log_probs.shape[-1]
        total = (scores[:, :, None] + log_probs.reshape(batch, width, vocabulary)).reshape(batch, -1)
        order = np.argsort(-total, axis=1, kind="stable")
        rows, next_ids = np.zeros(batch * width, dtype=np.int64), np.zeros(batch * width, dtype=np.int32)
        next_scores, next_sequences = np.full((batch, width), -np.inf), [[[] for _ in range(width)] for _ in range(batch)]
        for b in range(batch):
            rows[b * width:(b + 1) * width] = b * width  # rows not refilled below carry a -inf score
            if done[b]:
                continue
            kept = 0
            for index in order[b]:
                score = total[b, index]
                if kept == width or not np.isfinite(score):
                    break
                beam, token = divmod(int(index), vocabulary)
                if token == end_id:
                    ended[b].append((score, sequences[b][beam]))
                    continue
                rows[b * width + kept], next_ids[b * width + kept] = b * width + beam, token
                next_scores[b, kept], next_sequences[b][kept] = score, sequences[b][beam] + [token]
                kept += 1
            best_live = next_scores[b].max()
            done[b] = bool(ended[b]) and max(score for score, _ in ended[b]) >= best_live
        scores, sequences, ids = next_scores, next_sequences, next_ids
        state = _rows(state, rows)
        if done.all():
            break
    out = []
    for b in range(batch):
        candidates = list(ended[b])
        if not done[b]:  # max_length reached: the live hypotheses count as ended
            candidates += [(scores[b, k], sequences[b][k]) for k in range(width) if np.isfinite(scores[b, k])]
        best = max(range(len(candidates)), key=lambda i: (candidates[i][0], -i))  # ties: the first found
        out.append(list(candidates[best][1]))
    return out


def sample(step, state, first_ids, length, temperature, uniforms, end_id=None):
    """Up to `length` new ids per row, drawn from softmax(log_probs / temperature).

    first_ids: (B,) the token each row starts from, or (B, P) a prompt, which is fed
    through the model first (its last token gives the first draw). The draw at step t is
    the first id whose cumulative probability reaches uniforms[:, t] (inverse CDF), so the
    same uniforms and the same step outputs give the same ids on both implementations.
    With end_id, a row stops after drawing it (end_id is the row's last id).
    """
    if not np.isfinite(temperature) or temperature <= 0:
        raise ValueError(f"temperature must be a positive number, got {temperature}")
    prompt = np.asarray(first_ids, dtype=np.int32)
    prompt = prompt[:, None] if prompt.ndim == 1 else prompt
    batch = len(prompt)
    uniforms = np.asarray(uniforms, dtype=np.float64)
    if uniforms.shape != (batch, length):
        raise ValueError(f"sample needs uniforms of shape {(batch, length)}, got {uniforms.shape}")
    for t in range(prompt.shape[1]):
        log_probs, state = _log_probs(step, prompt[:, t], state)
    out, done = [[] for _ in range(batch)], np.zeros(batch, dtype=bool)
    for t in range(length):
        if t:
            log_probs, state = _log_probs(step, ids, state)
        scaled = log_probs / temperature
        probabilities = np.exp(scaled - scaled.max(axis=-1, keepdims=True))
        cumulative = np.cumsum(probabilities, axis=-1)
        below = cumulative < uniforms[:, t:t + 1] * cumulative[:, -1:]
        ids = np.minimum(below.sum(axis=-1), log_probs.shape[-1] - 1).astype(np.int32)
        for row, token in enumerate(ids.tolist()):
            if not done[row]:
                out[row].append(token)
                done[row] = end_id is not None and token == end_id
        if done.all():
            break
    return out
