"""Named entities in generated sentences, tagged IOB2, for the tagger: `entities`.

    "president Talomir Brenado arrived in Port Kesavi on Monday ."
     O         B-PER   I-PER   O       O  B-LOC I-LOC O  O      O

Sentences come from TEMPLATES (news-style, 60-odd, 6 to 27 tokens; most with one entity, some with two or three,
a few with none) whose slots are filled with person, location and organisation names:

    {PER}    a first and a last name (B-PER I-PER), or a last name alone
    {TITLE}  Mr. / Mrs. / Dr. / Ms. (O) and a last name (B-PER): titles are not part of the name
    {LOC}    a place name, alone or with New / Port / Lake before it or City after it (B-LOC I-LOC)
    {ORG}    a company name, alone or with Corp / Industries / Group / Motors / Airlines after it, or
             Bank of / University of and a place name (B-ORG I-ORG I-ORG: a place inside an organisation)
    {THING}  a rare common word (O), generated like the names but lower case: "a shortage of tesavo"
    {NUM} {DAY} {MONTH}   numbers 2-99, weekdays and months (O)

The context words say which kind of name a slot holds ("shares of ... rose", "police in ...",
"... , the chief executive of"), and the names are generated from syllables (Talomir, Kesavi), so
their spelling says nothing; nor does being unknown: a {THING} is as unknown as a name (the model
reads ids, not capitals). Every name token belongs to one pool per split: the TEST (and the
validation) sentences use names that never occur in training, so only the context can find them.
Training names are drawn from pools about twice as large as the number of times they are drawn,
so most occur once, fall under the vocabulary's min_count (common/data/conll.py) and are read as
the out-of-vocabulary id, like every test name: the tagger learns "an unknown word in this
context is a person". Fixed seed (ENTITIES_SEED), as SPLIT_SEED: every run sees the same sentences.
"""
import numpy as np

from common.data.core import DataError

NAMES = ("entities",)
ENTITY_SIZES = (3000, 300, 1000)  # train, validation, test sentences
ENTITIES_SEED = 1717
SPLITS = ("train", "val", "test")
POOL_FRACTIONS = (0.7, 0.1, 0.2)  # of each name pool: names of the training, validation and test sentences (disjoint)
# name tokens per kind, all splits; "thing": rare common words (lower case), no entity
POOL_SIZES = {"first": 3000, "last": 4000, "place": 3000, "company": 3000, "thing": 1500}

SYLLABLES = ("ba", "be", "bo", "da", "de", "di", "do", "fa", "fe", "ga", "go", "ha", "he", "ka", "ke", "ki", "ko",
             "la", "le", "li", "lo", "lu", "ma", "me", "mi", "mo", "na", "ne", "ni", "no", "pa", "pe", "po", "ra",
             "re", "ri", "ro", "sa", "se", "si", "so", "ta", "te", "ti", "to", "va", "ve", "vi", "wa", "ya", "za",
             "zo", "bran", "dor", "mar", "len", "tor", "vin", "kel", "ros", "ber", "gan")
TITLES = ("Mr.", "Mrs.", "Dr.", "Ms.")
DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December")
# (words before, name kind, words after) of each entity form, with its weight; the name kind's pool fills the middle
LOCATION_FORMS = ((0.6, (), "place", ()), (0.1, ("New",), "place", ()), (0.1, ("Port",), "place", ()),
                  (0.1, ("Lake",), "place", ()), (0.1, (), "place", ("City",)))
ORGANISATION_FORMS = ((0.25, (), "company", ()), (0.15, (), "company", ("Corp",)),
                      (0.1, (), "company", ("Industries",)), (0.1, (), "company", ("Group",)),
                      (0.05, (), "company", ("Motors",)), (0.05, (), "company", ("Airlines",)),
                      (0.15, ("Bank", "of"), "place", ()), (0.15, ("University", "of"), "place", ()))

TEMPLATES = (
    # persons
    "{PER} said on {DAY} that the talks had failed .",
    "{TITLE} told reporters that he would not resign .",
    "according to {PER} , the deal is worth {NUM} million dollars .",
    "{PER} , the chief executive of {ORG} , declined to comment .",
    "the coach {PER} was sacked after the defeat .",
    "{TITLE} published the study in {MONTH} .",
    "{PER} scored twice in the second half .",
    "president {PER} arrived in {LOC} on {DAY} .",
    "she met {PER} at the conference in {LOC} .",
    "{PER} , {NUM} , was born in {LOC} .",
    "foreign minister {PER} will visit {LOC} next week .",
    "the new novel by {PER} won the prize .",
    "{PER} resigned as chairman of {ORG} .",
    "{TITLE} thanked the voters after the election .",
    "senator {PER} criticised the plan on {DAY} .",
    "{PER} and {PER} were married last year .",
    "the judge told {PER} that he could go home .",
    "her husband , {PER} , died in {MONTH} .",
    "{PER} won the race in {NUM} minutes .",
    "we spoke to {PER} about the strike .",
    "the goal was scored by {PER} in the last minute .",
    "{TITLE} , who lives in {LOC} , was not available for comment .",
    # locations
    "heavy rain hit {LOC} overnight .",
    "the river flows through {LOC} to the sea .",
    "flights from {LOC} to {LOC} were cancelled on {DAY} .",
    "police in {LOC} arrested {NUM} men .",
    "the earthquake struck near {LOC} early on {DAY} .",
    "temperatures in {LOC} fell below zero .",
    "the embassy in {LOC} was closed .",
    "he grew up in a small village near {LOC} .",
    "peace talks will resume in {LOC} in {MONTH} .",
    "the road between {LOC} and {LOC} is blocked by snow .",
    "thousands of tourists visit {LOC} every summer .",
    "the army withdrew from {LOC} .",
    "{LOC} has a population of {NUM} thousand .",
    "troops crossed the border into {LOC} .",
    "the mayor of {LOC} opened the bridge on {DAY} .",
    # organisations
    "shares of {ORG} rose {NUM} percent on {DAY} .",
    "{ORG} reported a quarterly loss of {NUM} million .",
    "{ORG} said it would cut {NUM} jobs .",
    "the merger of {ORG} and {ORG} was approved .",
    "analysts expect {ORG} to raise prices .",
    "{ORG} signed a contract with the government .",
    "a spokesman for {ORG} said the plant would close .",
    "she joined {ORG} in {MONTH} .",
    "{ORG} , based in {LOC} , makes steel .",
    "workers at {ORG} went on strike .",
    "the bid for {ORG} was rejected by the board .",
    "{ORG} opened a new factory in {LOC} .",
    "{PER} , a lawyer for {ORG} , denied the report .",
    "the contract was won by {ORG} .",
    "{ORG} will buy {ORG} for {NUM} billion dollars .",
    # longer, several entities
    "{PER} , who was elected in {MONTH} , said the government would not raise taxes before the next election .",
    "speaking in {LOC} on {DAY} , {PER} said that {ORG} had agreed to pay {NUM} million dollars to the workers .",
    "the talks between {ORG} and the unions broke down in {LOC} after {NUM} hours , a spokesman said .",
    "{ORG} , which employs {NUM} people in {LOC} , said on {DAY} that profits had fallen for the third year in a row .",
    "after a long flight from {LOC} , {TITLE} told the crowd that the campaign would start again in {MONTH} .",
    "fans waited outside the stadium in {LOC} for hours , but {PER} did not appear .",
    # rare common words: out of vocabulary like the names, but no entity (only the context tells them apart)
    "prices of {THING} rose sharply in {LOC} .",
    "{ORG} will stop making {THING} next year .",
    "{PER} collects old {THING} and sells them on {DAY} .",
    "a shortage of {THING} closed the factory .",
    "the {THING} was found near {LOC} by a farmer .",
    "exports of {THING} fell by {NUM} percent .",
    "she bought a box of {THING} for {PER} .",
    "the museum in {LOC} shows {THING} from the last century .",
    # none
    "the market closed higher on {DAY} .",
    "prices rose by {NUM} percent in {MONTH} .",
    "the meeting ended without an agreement .",
    "it was the worst storm in {NUM} years .",
)
TEMPLATE_WORDS = frozenset(word for template in TEMPLATES for word in template.split() if not word.startswith("{"))
AFFIXES = frozenset(word for forms in (LOCATION_FORMS, ORGANISATION_FORMS) for _, before, _, after in forms
                    for word in before + after)  # the words of an entity that are not names: New, City, Bank, of, ...


def matches(name):
    return name == "entities"


def load(name, options):
    from common.data.conll import tagged_data

    return tagged_data(name, entity_sentences(), options)


def name_pools(seed=ENTITIES_SEED):
    """{split: {kind: names}}: distinct generated names, each kind's pool cut into disjoint train / val / test parts."""
    rng = np.random.default_rng(seed)
    reserved = {word.lower() for word in TEMPLATE_WORDS | AFFIXES | set(TITLES) | set(DAYS) | set(MONTHS)}
    names, seen = [], set()
    while len(names) < sum(POOL_SIZES.values()):
        syllables = rng.choice(len(SYLLABLES), size=int(rng.integers(2, 4)))
        name = "".join(SYLLABLES[s] for s in syllables)
        if name not in seen and name not in reserved:
            seen.add(name)
            names.append(name)
    pools, start = {split: {} for split in SPLITS}, 0
    for kind, size in POOL_SIZES.items():
        kind_names = names[start:start + size]
        start += size
        cuts = np.cumsum([int(round(fraction * size)) for fraction in POOL_FRACTIONS[:-1]])
        for split, part in zip(SPLITS, np.split(np.asarray(kind_names), cuts)):
            pools[split][kind] = [str(name) if kind == "thing" else str(name).capitalize() for name in part]
    return pools


def _pick(rng, options):
    return options[int(rng.integers(len(options)))]


def _form(rng, forms):
    weights = np.asarray([weight for weight, *_ in forms])
    return forms[int(rng.choice(len(forms), p=weights / weights.sum()))][1:]


def _entity(rng, pools, slot):
    """The tokens and tags of one filled slot."""
    if slot == "PER":
        if rng.random() < 0.8:
            return [_pick(rng, pools["first"]), _pick(rng, pools["last"])], ["B-PER", "I-PER"]
        return [_pick(rng, pools["last"])], ["B-PER"]
    if slot == "TITLE":
        return [_pick(rng, TITLES), _pick(rng, pools["last"])], ["O", "B-PER"]
    if slot in ("LOC", "ORG"):
        before, kind, after = _form(rng, LOCATION_FORMS if slot == "LOC" else ORGANISATION_FORMS)
        tokens = [*before, _pick(rng, pools[kind]), *after]
        return tokens, [f"B-{slot}"] + [f"I-{slot}"] * (len(tokens) - 1)
    value = {"NUM": lambda: str(int(rng.integers(2, 100))), "DAY": lambda: _pick(rng, DAYS),
             "THING": lambda: _pick(rng, pools["thing"]),
             "MONTH": lambda: _pick(rng, MONTHS)}[slot]()
    return [value], ["O"]


def sentence(rng, template, pools):
    """(tokens, IOB2 tags) of one template with its slots filled from `pools` (one split's names)."""
    tokens, tags = [], []
    for word in template.split():
        if word.startswith("{"):
            filled, filled_tags = _entity(rng, pools, word[1:-1])
            tokens += filled
            tags += filled_tags
        else:
            tokens.append(word)
            tags.append("O")
    return tokens, tags


def entity_sentences(sizes=ENTITY_SIZES, seed=ENTITIES_SEED):
    """{"train" | "val" | "test": (token lists, tag lists)}: templates drawn uniformly, each split's own names."""
    if len(sizes) != len(SPLITS) or min(sizes) < 1:
        raise DataError(f"entities: sizes must be three positive counts (train, validation, test), got {sizes}")
    pools = name_pools(seed)
    rng = np.random.default_rng(seed + 1)
    splits = {}
    for split, size in zip(SPLITS, sizes):
        drawn = [sentence(rng, TEMPLATES[int(rng.integers(len(TEMPLATES)))], pools[split]) for _ in range(size)]
        splits[split] = ([tokens for tokens, _ in drawn], [tags for _, tags in drawn])
    return splits
