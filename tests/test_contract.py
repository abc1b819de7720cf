"""The contract every registered model passes (after implicit's shared test mixin).

One table says, per model, which parameters keep the run short and what
"recovers the truth" means for it; everything else is the same for all:
planted truth recovered, every hyperparameter matters, same seed same
factors, raw ids mapped right, save/load faithful, cancel keeps a usable model.
"""

from __future__ import annotations

import numpy as np
import pytest

from mfstudio import metrics
from mfstudio.data import Dataset, random_split
from mfstudio.data.features import features_from_lists
from mfstudio.data.samples import bars, movies, topics_corpus
from mfstudio.models import MODELS, Baseline, load_model
from mfstudio.models.params import ParamError
from mfstudio.recommend import recommendations_for, recommendations_for_new_user

# Parameters that make each model's contract run quick but still meaningful.
FAST = {
    "baseline": {"n_epochs": 5},
    "gd": {"n_epochs": 30},
    "sgd": {"n_epochs": 15},
    "svdpp": {"n_epochs": 20},
    "als": {"n_epochs": 8},
    "implicit-als": {"n_epochs": 8},
    "bpr": {"n_epochs": 30},
    "bpmf": {"n_epochs": 30},
    "nmf": {"n_epochs": 60},
    "svd": {},
}

# Rating models with no mean or bias terms (the textbook tutorial's model).
WITHOUT_BIASES = {"gd"}

# Parameters whose effect shows only together with another setting, or that
# cannot change predictions by design (with the reason, so it is a decision).
PERTURB_WITH = {
    ("sgd", "batch_size"): {"optimizer": "adam"},
    ("sgd", "beta1"): {"optimizer": "adam"},
    ("sgd", "beta2"): {"optimizer": "adam"},
    ("nmf", "beta_loss"): {"solver": "mu"},
    ("implicit-als", "epsilon"): {"scaling": "log"},
}
# Where the next choice in the list means the same on the contract's data
# ("none" is what "auto" picks for documents), the value to try instead.
PERTURB_TO = {("svd", "center"): "item"}
UNCHANGEABLE = {
    "threshold": "ranking models: changes which entries count as positive only for explicit input",
    "dtype": "working precision: the same factors to float32 accuracy, by design",
}
def _planted_ratings(seed=3) -> Dataset:
    return movies(n_users=300, n_items=400, seed=seed)


def _planted_interactions(seed=3) -> Dataset:
    """Users in 6 taste groups each interacting mostly with their group's items."""
    rng = np.random.default_rng(seed)
    n_users, n_items, groups = 300, 240, 6
    user_group = rng.integers(0, groups, n_users)
    item_group = np.arange(n_items) % groups
    rows, cols = [], []
    for u in range(n_users):
        own = np.flatnonzero(item_group == user_group[u])
        other = np.flatnonzero(item_group != user_group[u])
        picks = np.concatenate([rng.choice(own, 14, replace=False), rng.choice(other, 2, replace=False)])
        rows.append(np.full(picks.size, u))
        cols.append(picks)
    rows, cols = np.concatenate(rows), np.concatenate(cols)
    # The groups are also side features (as movies() plants a segment per user), for the hybrid's parameters.
    return Dataset(kind="implicit", rows=rows, cols=cols, values=np.ones(rows.size),
                   row_ids=np.array([f"user{u}" for u in range(n_users)]),
                   col_ids=np.array([f"item{i}" for i in range(n_items)]), name="planted interactions",
                   item_features=features_from_lists([[f"group={g}", f"shelf={i % 4}"]
                                                      for i, g in enumerate(item_group)]),
                   user_features=features_from_lists([[f"taste={g}", f"cohort={u % 3}"]
                                                      for u, g in enumerate(user_group)]))


def data_for(cls) -> Dataset:
    if cls.task == "ranking":
        return _planted_interactions()
    if cls.task == "rating":
        return _planted_ratings()
    if "documents" in cls.kinds:
        return topics_corpus(n_docs=200, seed=1)
    return bars(n_images=150, seed=1)


def make(cls, **extra):
    return cls(**{**FAST.get(cls.name, {}), **extra})


def probe_predictions(model, data: Dataset) -> np.ndarray:
    rng = np.random.default_rng(0)
    users = rng.integers(0, data.n_rows, 200)
    items = rng.integers(0, data.n_cols, 200)
    return model.predict(users, items)


ALL = sorted(MODELS)


@pytest.fixture(scope="module")
def splits():
    return {}


def split_of(cls, cache):
    key = (cls.task, "documents" in cls.kinds)
    if key not in cache:
        cache[key] = random_split(data_for(cls), 0.2, seed=0)
    return cache[key]


# ------------------------------------------------------------------ recovery

@pytest.mark.parametrize("name", ALL)
def test_recovers_planted_structure(name, splits):
    cls = MODELS[name]
    split = split_of(cls, splits)
    model = make(cls).fit(split.train, split.test)
    scores = model.score(split.test)
    if cls.task == "ranking":
        popular = np.argsort(-split.train.col_counts())
        users = np.unique(split.test.rows)
        seen = split.train.to_csr()[users]
        pop_lists = np.array([[i for i in popular if seen[k, i] == 0][:10] for k in range(users.size)])
        pop = metrics.precision_at_k(pop_lists, split.test.to_csr()[users], 10)
        if name == "popularity":  # the reference itself, up to tie-breaking
            assert scores["precision@10"] == pytest.approx(pop, rel=0.2)
        else:
            assert scores["precision@10"] > 1.5 * pop, (scores, pop)
        return
    if "rmse" in scores and split.train.kind == "explicit":  # decompositions of documents report an rmse per cell too
        baseline = Baseline().fit(split.train).score(split.test)["rmse"]
        if name == "baseline":
            assert scores["rmse"] < 1.05
        elif name in WITHOUT_BIASES:
            # No mean and no biases: the factors carry everything, so the fair
            # reference is the global mean, which it must beat clearly.
            truth = split.test.values
            mean_rmse = metrics.rmse(truth, np.full(truth.shape, split.train.values.mean()))
            assert scores["rmse"] < mean_rmse - 0.05, (scores, mean_rmse)
        else:
            # Rounded, clipped ratings with noise 0.5: a model that learned the
            # factors beats the biases-only line clearly.
            assert scores["rmse"] < baseline - 0.02, (scores, baseline)
    else:
        assert scores["relative_error"] < 0.8


# ---------------------------------------------------------------- parameters

def _perturbed(cls, name, value):
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value * 2 if value > 1 else value + 2
    if isinstance(value, float):
        return value * 3 if value else 0.1
    if isinstance(value, str):
        options = [o for o in cls.param_choices.get(name, ()) if o != value]
        return options[0] if options else None
    return None


@pytest.mark.parametrize("name", ALL)
def test_every_hyperparameter_changes_the_result(name, splits):
    cls = MODELS[name]
    split = split_of(cls, splits)
    base_params = FAST.get(name, {})
    reference = probe_predictions(make(cls).fit(split.train), split.train)
    unchanged = []
    for param, default in cls.defaults.items():
        if param in UNCHANGEABLE:
            continue
        current = base_params.get(param, default)
        new = PERTURB_TO.get((name, param), _perturbed(cls, param, current))
        if new is None:
            continue
        extra = PERTURB_WITH.get((name, param), {})
        base_model = make(cls, **extra).fit(split.train) if extra else None
        ref = probe_predictions(base_model, split.train) if base_model else reference
        other = probe_predictions(make(cls, **extra, **{param: new}).fit(split.train), split.train)
        if np.allclose(ref, other, atol=1e-6):
            unchanged.append(f"{param}={new!r}")
    assert not unchanged, f"{name}: these settings changed nothing: {unchanged}"


@pytest.mark.parametrize("name", ALL)
def test_same_seed_same_factors_single_threaded(name, splits):
    import numba

    cls = MODELS[name]
    split = split_of(cls, splits)
    before = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        a = make(cls, seed=7) if "seed" in cls.defaults else make(cls)
        b = make(cls, seed=7) if "seed" in cls.defaults else make(cls)
        a.fit(split.train)
        b.fit(split.train)
        np.testing.assert_array_equal(a.user_factors_, b.user_factors_)
        np.testing.assert_array_equal(a.item_factors_, b.item_factors_)
        if "seed" in cls.defaults:
            c = make(cls, seed=8).fit(split.train)
            assert not np.array_equal(a.item_factors_, c.item_factors_)
    finally:
        numba.set_num_threads(before)


# ---------------------------------------------------------------- raw ids

@pytest.mark.parametrize("name", ALL)
def test_raw_ids_are_mapped_at_the_edge(name, splits):
    cls = MODELS[name]
    split = split_of(cls, splits)
    model = make(cls).fit(split.train)
    train = model.train_
    user_raw = train.row_ids[5].item()
    item_raw = train.col_ids[7].item()
    assert model.predict_raw(user_raw, item_raw) == pytest.approx(float(model.predict([5], [7])[0]))
    rows = recommendations_for(model, user_raw, n=5)
    seen = set(train.col_ids[train.cols[train.rows == 5]].tolist())
    internal, _ = model.recommend([5], n=5)
    assert [r["item"] for r in rows] == train.col_ids[internal[0][internal[0] >= 0]].tolist()
    assert not seen & {r["item"] for r in rows}
    liked = train.col_ids[train.cols[train.rows == 5]][:5].tolist()
    fresh = recommendations_for_new_user(model, {raw: 5.0 for raw in liked}, n=5)
    assert fresh and not set(liked) & {r["item"] for r in fresh}
    assert all(r["item"] in set(train.col_ids.tolist()) for r in fresh)


# ---------------------------------------------------------------- save / load

@pytest.mark.parametrize("name", ALL)
def test_save_then_load_predicts_the_same(name, splits, tmp_path):
    cls = MODELS[name]
    split = split_of(cls, splits)
    model = make(cls).fit(split.train)
    loaded = load_model(model.save(tmp_path / "model"))
    assert type(loaded) is cls and loaded.params == model.params
    np.testing.assert_allclose(probe_predictions(loaded, split.train), probe_predictions(model, split.train), rtol=1e-6)
    a, _ = model.recommend([0, 1, 2], n=5)
    b, _ = loaded.recommend([0, 1, 2], n=5)
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", ALL)
def test_stopping_early_leaves_a_model_that_predicts(name, splits):
    cls = MODELS[name]
    split = split_of(cls, splits)
    model = make(cls)
    steps = model.iter_fit(split.train)
    first = next(steps)
    steps.close()  # what the GUI's Cancel does
    assert first.epoch == 1 and len(model.history_) == 1
    assert np.isfinite(probe_predictions(model, split.train)).all()


@pytest.mark.parametrize("name", ALL)
def test_word_parameters_list_their_choices_and_refuse_others(name):
    cls = MODELS[name]
    for param, default in cls.defaults.items():
        if isinstance(default, str) and cls.param(param).kind != "str":  # "str": free text (a Spark master URL)
            choices = cls.param_choices.get(param)
            assert choices and choices[0] == default, f"{name}.{param}: no choices listed, default first"
    for param, choices in cls.param_choices.items():
        with pytest.raises(ParamError, match=param):
            make(cls, **{param: "no-such-" + param}).fit(split_of(cls, {}).train)


# ------------------------------------------------------- declared parameters
# After scikit-learn's check_param_validation: every constraint a declaration
# states is tried, so a bound that the code forgets to enforce fails here.

@pytest.mark.parametrize("name", ALL)
def test_every_parameter_is_declared_once_and_the_old_names_derive_from_it(name):
    cls = MODELS[name]
    spec = cls.params_spec
    assert spec, f"{name} declares no parameters"
    assert list(cls.defaults) == [p.name for p in spec]
    assert cls.defaults == {p.name: p.default for p in spec}
    assert cls.param_help == {p.name: p.help for p in spec} and all(p.help for p in spec)
    assert cls.param_choices == {p.name: p.choices for p in spec if p.kind == "choice"}
    assert cls().validate_params() == cls.defaults


@pytest.mark.parametrize("name", ALL)
def test_every_declared_bound_is_refused_with_a_param_error_before_any_data(name):
    cls = MODELS[name]
    tried = 0
    for declared in cls.params_spec:
        for bad in declared.refused_examples():
            with pytest.raises(ParamError) as refused:
                cls(**{declared.name: bad}).validate_params()
            message = str(refused.value)
            assert refused.value.param == declared.name
            assert message.startswith(declared.name) and declared.allowed() in message, message
            # The fit refuses it as its first act: no data is looked at (None would fail later).
            with pytest.raises(ParamError):
                next(cls(**{declared.name: bad}).iter_fit(None))
            tried += 1
        for bound, is_open in ((declared.low, declared.low_open), (declared.high, declared.high_open)):
            if bound is not None and not is_open:  # a closed bound is itself allowed
                value = int(bound) if declared.kind == "int" else float(bound)
                assert cls(**{declared.name: value}).validate_params()[declared.name] == value
    assert tried >= 3 * len(cls.params_spec)


@pytest.mark.parametrize("name", ALL)
def test_an_unknown_parameter_is_a_param_error_naming_it(name):
    with pytest.raises(ParamError, match="no_such_knob"):
        MODELS[name](no_such_knob=1)
