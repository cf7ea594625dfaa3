"""The embedded Reber grammar (Hochreiter & Schmidhuber 1997), for the character-level language model: `reber`.

The Reber grammar is a 7-node automaton; from every node but the last, each of two
symbols is taken with probability 1/2:

    node 0 --B--> 1      node 1 --T--> 2 | --P--> 3      node 2 --S--> 2 | --X--> 4
    node 3 --T--> 3 | --V--> 5      node 4 --X--> 3 | --S--> 6      node 5 --P--> 4 | --V--> 6
    node 6 --E--> end                                    e.g. BTSSXXTVVE, BPVVE, BTXSE

An embedded Reber string is B, then T or P (1/2 each), then a Reber string, then the same
T or P again, then E: BTBPVVETE, BPBTXSEPE. The second symbol must be repeated just
before the end, a dependency across the whole string that a network can only meet by
remembering it. The grammar is deterministic (every node's two symbols differ), so a
prefix fixes the automaton's state and the exact distribution of the next character:
`next_probabilities`. The best possible cross-entropy of a string is therefore known:
-log 2 for every one of its binary choices, 0 for every forced symbol
(common.evaluate.grammar_optimum). `accepts` is the acceptor that scores generated strings.

The data: REBER_SIZES strings drawn from the grammar with a fixed seed, so every run and
both implementations see the same strings; as character ids (common.vocabulary, with the
start and end ids around every string), x = <start> s, y = s <end>, padded with 0 to the
longest string (common/data/characters.py).
"""
import numpy as np

from common.data.core import DataError

NAMES = ("reber",)
# Train, validation, test strings. Train: measured as the smallest that both implementations learn to within
# 3% of the optimum on seeds 0-7 (the registry's entry for charlm says how); the test set is large enough that
# its optimum (and a model's cross-entropy) rest on ~10,000 predicted characters.
REBER_SIZES = (1000, 200, 1000)
REBER_SEED = 1234  # fixed, like SPLIT_SEED: every run sees the same strings

END = None  # the end of a string, as a "next symbol" of the automaton
# The Reber automaton: node -> ((symbol, next node), (symbol, next node)), each taken with probability 1/2.
REBER = {
    1: (("T", 2), ("P", 3)),
    2: (("S", 2), ("X", 4)),
    3: (("T", 3), ("V", 5)),
    4: (("X", 3), ("S", 6)),
    5: (("P", 4), ("V", 6)),
}
SYMBOLS = "BEPSTVX"


def matches(name):
    return name == "reber"


def load(name, options):
    from common.data import characters

    return characters.from_strings(name, reber_strings(), options, grammar=EmbeddedReber())


def reber_strings(sizes=REBER_SIZES, seed=REBER_SEED):
    """(train, validation, test) lists of embedded Reber strings, drawn with a fixed seed."""
    rng = np.random.default_rng(seed)
    return tuple([embedded_reber(rng) for _ in range(n)] for n in sizes)


def reber(rng):
    """One Reber string: B, a walk of the automaton from node 1 to node 6, E."""
    symbols, node = ["B"], 1
    while node != 6:
        symbol, node = REBER[node][int(rng.integers(2))]
        symbols.append(symbol)
    return "".join(symbols) + "E"


def embedded_reber(rng):
    """B, T or P, a Reber string, the same T or P, E."""
    branch = "TP"[int(rng.integers(2))]
    return "B" + branch + reber(rng) + branch + "E"


class EmbeddedReber:
    """The embedded Reber grammar as an automaton: exact next-symbol probabilities and an acceptor.

    States: "start" (nothing read), "branch" (after the first B), ("inner", c, node) inside the
    embedded Reber string with c the outer symbol (node 0: before its B), ("close", c) after its
    E, "final" after the repeated c, "done" after the last E (only the end may follow).
    """

    name = "embedded Reber"
    symbols = SYMBOLS

    def transitions(self, state):
        """{symbol or END: (probability, next state)} from `state`."""
        if state == "start":
            return {"B": (1.0, "branch")}
        if state == "branch":
            return {c: (0.5, ("inner", c, 0)) for c in "TP"}
        if state == "final":
            return {"E": (1.0, "done")}
        if state == "done":
            return {END: (1.0, None)}
        kind, outer = state[0], state[1]
        if kind == "close":
            return {outer: (1.0, "final")}
        node = state[2]
        if node == 0:
            return {"B": (1.0, ("inner", outer, 1))}
        if node == 6:
            return {"E": (1.0, ("close", outer))}
        return {symbol: (0.5, ("inner", outer, target)) for symbol, target in REBER[node]}

    def state_after(self, prefix):
        """The state after reading `prefix`, or None when the grammar cannot produce it."""
        state = "start"
        for symbol in prefix:
            step = self.transitions(state).get(symbol)
            if step is None:
                return None
            state = step[1]
        return state

    def next_probabilities(self, prefix):
        """{symbol or END: probability} of what follows `prefix` (a prefix of a grammatical string)."""
        state = self.state_after(prefix)
        if state is None:
            raise DataError(f"{prefix!r} is not a prefix of an embedded Reber string")
        return {symbol: probability for symbol, (probability, _) in self.transitions(state).items()}

    def accepts(self, text):
        """True when `text` is a whole embedded Reber string."""
        return self.state_after(text) == "done"
