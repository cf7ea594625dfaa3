"""CTC decoding (Graves et al. 2006), shared by both speech implementations: best path and prefix beam search.

The networks output, at every frame, logits over BLANK (class 0, keras.losses.CTC's convention) and the
symbols 1..K. A transcript is read from the clip's real frames only (frame_count of them; padding frames
are never read):

    greedy       the best path: the arg-max class at every frame, repeats collapsed, blanks dropped
                 ("1 1 0 1 2 2" -> "1 1 2"); tf.nn.ctc_greedy_decoder's answer
    prefix_beam  prefix beam search (Graves 2012 ch. 7; Hannun et al. 2014 without a language model): the
                 `beam_width` labellings with the highest probability summed over all their alignments
                 seen so far, each kept as (log P(ending in blank), log P(ending in a symbol)); with a beam
                 wide enough it finds the labelling of highest total probability, which the best path's
                 labelling need not be (several alignments of one labelling can outweigh the best single path);
                 a frame's symbols less probable than 1e-5 extend no beam (PRUNE_BELOW)

Both take log-probabilities or logits: a log-softmax is applied first (it changes neither argmax).
Everything here is numpy, in float64.
"""
import math

import numpy as np

BLANK = 0
# Prefix beam search extends the beams only by the symbols at least this probable at a frame (log 1e-5): a
# trained network puts nearly all of a frame's mass on one or two classes, and a path through a less probable
# symbol cannot lift a labelling into the beam. (Without it, the beam cost 15 s on 500 clips of random logits.)
PRUNE_BELOW = np.log(1e-5)


def log_softmax(logits):
    logits = np.asarray(logits, np.float64)
    if not np.all(np.isfinite(logits)):
        raise FloatingPointError("the model's outputs contain NaN or infinite values")
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def greedy(logits, frame_counts):
    """[[symbol ids]] of every clip: the best path over its first frame_counts[i] frames, collapsed."""
    best = np.argmax(np.asarray(logits), axis=-1)  # (N, T)
    decoded = []
    for path, count in zip(best, frame_counts):
        path = path[:int(count)]
        kept = path[np.concatenate([[True], path[1:] != path[:-1]])] if len(path) else path  # repeats collapsed
        decoded.append([int(symbol) for symbol in kept if symbol != BLANK])
    return decoded


def prefix_beam(logits, frame_counts, beam_width=8):
    """[[symbol ids]] of every clip: prefix beam search over its first frame_counts[i] frames."""
    if beam_width < 1:
        raise ValueError(f"beam_width must be at least 1, got {beam_width}")
    log_probs = log_softmax(logits)
    return [_prefix_beam_one(clip[:int(count)], beam_width) for clip, count in zip(log_probs, frame_counts)]


def _logaddexp(a, b):
    """log(exp(a) + exp(b)) of two Python floats (numpy's on scalars is ten times slower, and this loop is hot)."""
    if a == -math.inf:
        return b
    if b == -math.inf:
        return a
    return max(a, b) + math.log1p(math.exp(-abs(a - b)))


def _prefix_beam_one(log_probs, beam_width):
    """The best labelling (a list of ids) of one clip's (frames, classes) log-probabilities."""
    beams = {(): (0.0, -math.inf)}  # prefix -> (log P(prefix, ending in blank), log P(prefix, ending in a symbol))
    for row in log_probs:
        frame = row.tolist()
        candidates = [s for s in np.flatnonzero(row >= PRUNE_BELOW).tolist() if s != BLANK]  # symbols worth a step
        following = {}

        def add(prefix, blank, symbol):
            old_blank, old_symbol = following.get(prefix, (-math.inf, -math.inf))
            following[prefix] = (_logaddexp(old_blank, blank), _logaddexp(old_symbol, symbol))

        for prefix, (blank, symbol) in beams.items():
            total = _logaddexp(blank, symbol)
            add(prefix, total + frame[BLANK], -math.inf)  # a blank: the prefix stays, now ending in blank
            for s in candidates:
                if prefix and prefix[-1] == s:
                    add(prefix, -math.inf, symbol + frame[s])  # the same symbol again, merged: the prefix stays
                    add(prefix + (s,), -math.inf, blank + frame[s])  # a repeat needs a blank between
                else:
                    add(prefix + (s,), -math.inf, total + frame[s])
        ranked = sorted(following.items(), key=lambda item: -_logaddexp(*item[1]))
        beams = dict(ranked[:beam_width])
    best = max(beams.items(), key=lambda item: _logaddexp(*item[1]))
    return list(best[0])


def labelling_log_probability(log_probs, labelling):
    """log P(labelling | frames), summed over every alignment by the CTC forward recursion (Graves 2006, eq. 5-8).
    What tf.nn.ctc_loss returns the negative of; here to check the decoders against."""
    extended = [BLANK]
    for symbol in labelling:
        extended += [symbol, BLANK]
    alpha = np.full(len(extended), -np.inf)
    alpha[0] = log_probs[0][BLANK]
    if len(extended) > 1:
        alpha[1] = log_probs[0][extended[1]]
    for frame in log_probs[1:]:
        previous = alpha.copy()
        for s in range(len(extended)):
            paths = previous[s]
            if s >= 1:
                paths = np.logaddexp(paths, previous[s - 1])
            if s >= 2 and extended[s] != BLANK and extended[s] != extended[s - 2]:
                paths = np.logaddexp(paths, previous[s - 2])
            alpha[s] = paths + frame[extended[s]]
    return np.logaddexp(alpha[-1], alpha[-2]) if len(extended) > 1 else alpha[-1]
