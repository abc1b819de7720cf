"""Built-in sample datasets, generated on the spot with a known answer.

Every sample is generated from a seeded :func:`numpy.random.default_rng`, so
the same arguments always give the same data, and nothing is downloaded.
Each keeps the structure it was generated from in :attr:`Dataset.truth`, so
tests (and curious users) can check what a model recovered against what was
planted:

- ``toy-5x4`` / ``toy-5x3``: tiny rating matrices of the kind the classic
  matrix-factorization tutorials fit by hand.
- ``movies``: a planted low-rank ratings set with biases, popularity skew,
  titles and genres, shaped like MovieLens 100K.
- ``topics``: documents mixed from known topic word lists, for NMF topics.
- ``bars``: the horizontal/vertical "bars" images whose parts NMF recovers.
- ``digits``: scikit-learn's offline 8 x 8 handwritten digits (real images).

:func:`parse_grid_text` reads a typed or pasted grid (the paste-a-matrix dialog).

:data:`SAMPLES` lists them for menus; :func:`load_sample` makes one by name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from .budget import check_allocation
from .dataset import Dataset
from . import features as _features
from .errors import DataError
from .text import vectorize_texts

__all__ = [
    "SAMPLES",
    "SampleInfo",
    "bars",
    "digits",
    "load_sample",
    "parse_grid_text",
    "movies",
    "sample_settings",
    "topics_corpus",
    "toy_ratings_5x3",
    "toy_ratings_5x4",
]


# --------------------------------------------------------------------- toys
#: The settings the tutorials fit their toy matrices with, per sample and model. gd's own
#: defaults (30 factors, 100 epochs, lr 0.005, weight decay 0.2) are tuned for MovieLens:
#: on 13 known cells a weight decay of 0.2 per update shrinks the factors enough to leave the
#: known cells ~0.3 stars off however long it runs (0.27 after 100 epochs, 0.29 after 5,000),
#: so a learner who opens the tutorial's matrix would not see its punchline. The samples carry
#: the tutorial's own recipe instead, applied where the user did not set a value
#: (:func:`sample_settings`); ``shuffle`` off is the tutorial's row-by-row order.
TUTORIAL_SETTINGS: dict[str, dict[str, dict]] = {
    # quuxlabs: K=2, alpha=0.0002, 5,000 steps (issue 15: no regularization).
    "toy-5x4": {"gd": {"n_factors": 2, "lr": 0.0002, "n_epochs": 5000, "reg": 0.0, "shuffle": False}},
    # The numpy walk-throughs' 5x3 case: k=2, learning rate 0.01, 5,000 sweeps, no regularization.
    "toy-5x3": {"gd": {"n_factors": 2, "lr": 0.01, "n_epochs": 5000, "reg": 0.0, "shuffle": False}},
}


#: Settings that only make sense together: a user's value for one leaves the others unapplied.
_COUPLED = ({"lr", "n_epochs"},)


def _settings_text(settings: dict) -> str:
    return ", ".join(f"{name} {value:g}" if isinstance(value, float) and not isinstance(value, bool)
                     else f"{name} {'on' if value else 'off'}" if isinstance(value, bool)
                     else f"{name} {value}" for name, value in settings.items())


def _settings_note(sample: str) -> str:
    """The dataset note that tells the user which settings the tutorial used (shown in the Data panel)."""
    parts = [f"the tutorial fits it with {model}: {_settings_text(settings)}"
             for model, settings in TUTORIAL_SETTINGS.get(sample, {}).items()]
    return "; ".join(parts) + " (fit --model gd uses these where you set no value)" if parts else ""


def sample_settings(dataset, model_name: str, given=()) -> tuple[dict, str]:
    """The tutorial's own settings for fitting a built-in sample with a model, less those the user gave.

    Parameters
    ----------
    dataset : Dataset or str
        A loaded dataset (its ``source``, e.g. ``"sample:toy-5x4"``, names the
        sample) or the source text itself.
    model_name : str
        The model's name (``"gd"``).
    given : iterable of str
        Parameter names the user set; they are kept as the user set them.

    Returns
    -------
    settings : dict
        ``{param: value}`` to apply (empty when the sample has no recipe for
        this model, or the user set every value of it).
    note : str
        One sentence saying what was applied and why ("" when nothing was).
    """
    source = dataset if isinstance(dataset, str) else getattr(dataset, "source", "") or ""
    name = source[len("sample:"):] if source.startswith("sample:") else None
    recipe = TUTORIAL_SETTINGS.get(name, {}).get(model_name) if name else None
    if not recipe:
        return {}, ""
    given = set(given)
    # A step size and a number of sweeps go together (0.0002 needs the 5,000 sweeps): the user's
    # value for one of them leaves the other at the model's default, not at the tutorial's.
    coupled = {key for group in _COUPLED if given & group for key in group}
    settings = {key: value for key, value in recipe.items() if key not in given and key not in coupled}
    if not settings:
        return {}, ""
    kept = [key for key in recipe if key in given]
    partners = [key for key in recipe if key in coupled and key not in given]
    note = (f"{source} is fitted with the tutorial's own {model_name} settings where none was given: "
            f"{_settings_text(settings)}"
            + (f" (yours kept: {', '.join(kept)}" if kept else "")
            + (f"; {', '.join(partners)} left at {model_name}'s default, as it goes with yours" if partners else "")
            + (")" if kept else "")
            + f"; {model_name}'s defaults are tuned for MovieLens-sized data, and their weight decay keeps "
              f"a tutorial's few known cells from being matched")
    return settings, note


def _toy_from_matrix(matrix, *, name: str, source: str, note: str) -> Dataset:
    """A rating dataset from a small dense matrix where 0 means "not rated"."""
    dense = np.asarray(matrix, dtype=np.float64)
    rows, cols = np.nonzero(dense)
    return Dataset(
        kind="explicit",
        rows=rows,
        cols=cols,
        values=dense[rows, cols],
        row_ids=np.asarray([f"U{i + 1}" for i in range(dense.shape[0])]),
        col_ids=np.asarray([f"D{j + 1}" for j in range(dense.shape[1])]),
        rating_scale=(1, 5),
        name=name,
        source=source,
        notes=[note],
        truth={"matrix": dense},
        kind_reason=(f"built-in sample: a {dense.shape[0]} x {dense.shape[1]} grid of ratings 1 to 5, "
                     f"0 in {np.mean(dense == 0):.0%} of cells read as unknown (the tutorials' convention)"),
        # What typing the same grid in offers (loaders._dataset_from_grid).
        kind_choices=("explicit", "implicit", "dense"),
    )


def toy_ratings_5x4() -> Dataset:
    """The 5 users x 4 items matrix of the classic matrix factorization tutorial.

    This is the matrix Albert Au Yeung's tutorial (quuxlabs.com) factorizes
    by hand with gradient descent::

             D1 D2 D3 D4
        U1 [  5  3  -  1 ]
        U2 [  4  -  -  1 ]
        U3 [  1  1  -  5 ]
        U4 [  1  -  -  4 ]
        U5 [  -  1  5  4 ]

    A dash (0 in the tutorial) is an unknown rating, not a rating of zero,
    so only the 13 non-zero cells are entries.

    Returns
    -------
    Dataset
        Kind ``"explicit"``, rating scale (1, 5), user ids ``"U1".."U5"``,
        item ids ``"D1".."D4"``. ``truth["matrix"]`` is the tutorial's matrix
        as floats, 0 where unknown.
    """
    matrix = [
        [5, 3, 0, 1],
        [4, 0, 0, 1],
        [1, 1, 0, 5],
        [1, 0, 0, 4],
        [0, 1, 5, 4],
    ]
    return _toy_from_matrix(
        matrix,
        name="Toy ratings 5x4 (sample)",
        source="sample:toy-5x4",
        note="the 5x4 matrix of the classic matrix factorization tutorial; blank cells are unknown; "
             + _settings_note("toy-5x4"),
    )


def toy_ratings_5x3() -> Dataset:
    """The 5 users x 3 items matrix of the tutorials' smaller example (0 = unknown).

    ::

             D1 D2 D3
        U1 [  5  3  -  ]
        U2 [  4  -  -  ]
        U3 [  1  1  -  ]
        U4 [  -  -  5  ]
        U5 [  -  -  4  ]

    The matrix the numpy gradient-descent walk-throughs in the tradition of
    Albert Au Yeung's quuxlabs tutorial use as their smallest case: ``k = 2``,
    ``np.random.seed(42)``, ``P = np.random.rand(5, 2)``, ``Q =
    np.random.rand(2, 3)``, learning rate 0.01, 5,000 sweeps of the
    per-entry update without regularization (the recipe issue 15 of this
    project quotes). Nobody rated D3 together with D1 or D2, so the two groups
    of users share no item: the reconstruction of the unknown cells is pure
    extrapolation, which is what the tutorials set out to show.

    Returns
    -------
    Dataset
        Kind ``"explicit"``, rating scale (1, 5), user ids ``"U1".."U5"``,
        item ids ``"D1".."D3"``, ``truth["matrix"]`` with 0 where unknown.
    """
    matrix = [
        [5, 3, 0],
        [4, 0, 0],
        [1, 1, 0],
        [0, 0, 5],
        [0, 0, 4],
    ]
    return _toy_from_matrix(
        matrix,
        name="Toy ratings 5x3 (sample)",
        source="sample:toy-5x3",
        note=("the tutorials' 5x3 example (numpy gradient-descent walk-throughs after Albert Au Yeung's "
              "quuxlabs.com tutorial: k=2, seed 42, learning rate 0.01, 5,000 sweeps); blank cells are unknown; "
              + _settings_note("toy-5x3")),
    )


# ------------------------------------------------------------------- pasted grids
def parse_grid_text(text: str, zero_is_unknown: bool = True, name: str = "Pasted grid") -> Dataset:
    """Read a typed or pasted grid of numbers ("5 3 0 1\\n4 0 0 1 ...") into a grid dataset.

    Cells are separated by commas, semicolons, tabs or spaces (any mix,
    repeated separators count once); one row per line; blank lines and
    Python/numpy list brackets (``[[5,3,0,1],[4,0,0,1]]``) are ignored, so a
    matrix copied from a tutorial or from ``print(R)`` reads as it is. An
    empty cell, ``-``, ``?``, ``nan`` or ``NA`` is unknown.

    Parameters
    ----------
    text : str
    zero_is_unknown : bool
        True: the tutorials' convention, 0 is "not rated" and the grid is
        read as explicit ratings (only the non-zero cells are entries). False:
        every number is a value (a dense matrix; 0 is a value).
    name : str
        The dataset's name.

    Returns
    -------
    Dataset
        Kind ``"explicit"`` (``zero_is_unknown``) or ``"dense"``; users
        ``"U1".."Un"``, items ``"D1".."Dm"``; ``truth["matrix"]`` is the grid
        as typed (with ``zero_is_unknown``, 0 wherever a cell is unknown; otherwise NaN there).

    Raises
    ------
    DataError
        No numbers, rows of different lengths (names the line), or a cell that is not a number.
    """
    import re

    from .loaders import _dataset_from_grid

    rows: list[list[float]] = []
    lines: list[int] = []
    unknown_words = {"", "-", "?", "nan", "na", "none", "."}
    for number, line in enumerate(str(text).splitlines(), start=1):
        # Brackets and a row's trailing comma (a pasted Python list) are not cells.
        cleaned = line.replace("[", " ").replace("]", " ").strip().rstrip(",;").strip()
        if not cleaned:
            continue
        # With commas, semicolons or tabs each separator ends a cell (an empty cell is unknown);
        # otherwise any run of spaces separates.
        cells = [c.strip() for c in re.split(r"[,;\t]", cleaned)] if re.search(r"[,;\t]", cleaned) \
            else cleaned.split()
        row = []
        for cell in cells:
            if cell.lower() in unknown_words:
                row.append(np.nan)
                continue
            try:
                row.append(float(cell))
            except ValueError:
                raise DataError(f"line {number}: {cell!r} is not a number", fix="type numbers only; leave a cell "
                                "empty or write - for unknown") from None
        rows.append(row)
        lines.append(number)
    if not rows:
        raise DataError("there are no numbers in the text", fix="paste a grid: one row per line, e.g. 5 3 0 1")
    width = len(rows[0])
    for row, number in zip(rows, lines):
        if len(row) != width:
            raise DataError(f"line {number} has {len(row)} cells where the first row has {width}",
                            fix="give every row the same number of cells (0 or - for unknown)")
    grid = np.asarray(rows, dtype=np.float64)
    from pathlib import Path

    typed = grid.copy()
    if zero_is_unknown:
        grid[grid == 0] = np.nan  # the person said so: 0 is unknown even where blank cells mark others
    dataset = _dataset_from_grid(
        Path(name), grid, kind="explicit" if zero_is_unknown else "dense",
        row_ids=np.asarray([f"U{i + 1}" for i in range(grid.shape[0])]),
        col_ids=np.asarray([f"D{j + 1}" for j in range(grid.shape[1])]), name=name, what="a pasted grid")
    dataset.source = "pasted"
    dataset.truth = {"matrix": np.nan_to_num(typed) if zero_is_unknown else typed}
    return dataset


# ------------------------------------------------------------------- digits
def digits() -> Dataset:
    """scikit-learn's handwritten digits, 1,797 images of 8 x 8 pixels (0-16), shipped with scikit-learn.

    The UCI "optical recognition of handwritten digits" test set as
    :func:`sklearn.datasets.load_digits` returns it (no download). NMF finds
    additive strokes in them, SVD signed "eigen-digits": the parts view
    shows both side by side. Each image's digit is its row label.

    Returns
    -------
    Dataset
        Kind ``"images"``, ``image_shape=(8, 8)``, row ids ``"digit0001"``...,
        ``row_labels`` the digit (``"0"``..``"9"``), ``truth["labels"]`` the same as ints.
    """
    try:
        from sklearn.datasets import load_digits
    except ImportError:  # pragma: no cover - scikit-learn is a dependency
        raise DataError("the digits sample needs scikit-learn", fix="pip install scikit-learn") from None
    bunch = load_digits()
    pixels = np.asarray(bunch.data, dtype=np.float64)
    n_images, n_pixels = pixels.shape
    return Dataset(
        kind="images",
        rows=np.repeat(np.arange(n_images), n_pixels),
        cols=np.tile(np.arange(n_pixels), n_images),
        values=pixels.ravel(),
        row_ids=np.asarray([f"digit{i + 1:04d}" for i in range(n_images)]),
        col_ids=np.asarray([f"p{r}_{c}" for r in range(8) for c in range(8)]),
        image_shape=(8, 8),
        row_labels=np.asarray(bunch.target).astype(str),
        row_label_name="digit",
        name="Digits 8x8, scikit-learn (sample)",
        source="sample:digits",
        kind_reason=f"built-in sample: {n_images} handwritten digits from scikit-learn, 8x8 pixels, one row per image",
        notes=["scikit-learn's load_digits (UCI optical digits), pixel values 0-16; shipped with scikit-learn"],
        truth={"labels": np.asarray(bunch.target)},
    )


# ------------------------------------------------------------------- movies
GENRES = (
    "Action", "Adventure", "Animation", "Comedy", "Crime", "Documentary",
    "Drama", "Fantasy", "Horror", "Romance", "Sci-Fi", "Thriller",
)
# How common each genre is among items (Drama and Comedy dominate, as in MovieLens).
_GENRE_WEIGHTS = np.array([0.15, 0.08, 0.04, 0.25, 0.08, 0.03, 0.30, 0.05, 0.06, 0.10, 0.07, 0.12])

_TITLE_ADJECTIVES = (
    "Silent", "Broken", "Golden", "Hidden", "Last", "Crimson", "Frozen", "Distant",
    "Burning", "Lonely", "Wild", "Secret", "Dark", "Bright", "Endless", "Forgotten",
    "Midnight", "Velvet", "Iron", "Hollow", "Restless", "Savage", "Gentle", "Shattered",
    "Electric", "Painted", "Sleeping", "Wandering", "Falling", "Rising", "Lost", "Quiet",
    "Scarlet", "Emerald", "Northern", "Southern", "Haunted", "Little", "Brave", "Stolen",
    "Eternal", "Bitter", "Sweet", "Crooked", "Paper",
)
_TITLE_NOUNS = (
    "Harbor", "Kingdom", "River", "Garden", "Empire", "Highway", "Mirror", "Shadow",
    "Frontier", "Island", "Horizon", "Storm", "Promise", "Station", "Circus", "Orchard",
    "Lighthouse", "Desert", "Symphony", "Detective", "Machine", "Canyon", "Summer", "Winter",
    "Legacy", "Voyage", "Witness", "Carnival", "Fortress", "Lagoon", "Prophecy", "Cartel",
    "Galaxy", "Heart", "Bridge", "Forest", "Signal", "Crown", "Garage", "Tide",
    "Ballroom", "Stranger", "Outpost", "Rebellion", "Diner",
)
_SEQUELS = ("", " II", " III", " IV", " V", " VI", " VII", " VIII", " IX", " X")

# Ratings happen between these instants (seconds since the epoch): 2014-01-01 .. 2018-12-31.
_FIRST_RATING_TIME = 1_388_534_400
_LAST_RATING_TIME = 1_546_214_400
_DAY = 86_400


def _top_k_per_row(
    rng: np.random.Generator, log_weights: np.ndarray, k: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Draw ``k[r]`` distinct columns for each row r, with probability ~ weights.

    The Gumbel-top-k trick: adding Gumbel noise to log-weights and keeping
    the k largest is the same as drawing k times without replacement, and it
    vectorizes over many rows at once. Rows go in blocks so that large
    matrices do not need a dense noise array of their full size.

    Returns (row index, column index) of the drawn pairs, row by row.
    """
    k = np.asarray(k)
    n_cols = log_weights.shape[-1]
    block = max(1, (1 << 22) // max(n_cols, 1))
    rows_out, cols_out = [], []
    for first in range(0, len(k), block):
        wanted = k[first:first + block]
        keys = log_weights + rng.gumbel(size=(len(wanted), n_cols))
        order = np.argsort(-keys, axis=1)
        rows, position = np.nonzero(np.arange(n_cols)[None, :] < wanted[:, None])
        rows_out.append(rows + first)
        cols_out.append(order[rows, position])
    if not rows_out:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    return np.concatenate(rows_out), np.concatenate(cols_out)


def _movie_titles(rng: np.random.Generator, n_items: int) -> np.ndarray:
    """Unique made-up titles such as "The Silent Harbor (1994)".

    Each adjective-noun pair is used once before any pair repeats; repeats
    become sequels ("Silent Harbor II"), which keeps titles unique for any
    number of items.
    """
    n_adj, n_noun = len(_TITLE_ADJECTIVES), len(_TITLE_NOUNS)
    n_pairs = n_adj * n_noun
    pairs = np.resize(rng.permutation(n_pairs), n_items)
    sequel_round = np.arange(n_items) // n_pairs
    with_article = rng.random(n_items) < 0.45
    years = rng.integers(1960, 2019, size=n_items)
    titles = []
    columns = (pairs.tolist(), sequel_round.tolist(), with_article.tolist(), years.tolist())
    for pair, round_, article, year in zip(*columns):
        adjective, noun = _TITLE_ADJECTIVES[pair // n_noun], _TITLE_NOUNS[pair % n_noun]
        sequel = _SEQUELS[round_] if round_ < len(_SEQUELS) else f" {round_ + 1}"
        titles.append(f"{'The ' if article else ''}{adjective} {noun}{sequel} ({year})")
    return np.asarray(titles)


def movies(
    n_users: int = 1000,
    n_items: int = 1500,
    n_factors: int = 10,
    seed: int = 0,
    *,
    density: float = 0.05,
    noise_std: float = 0.5,
    global_mean: float = 3.5,
) -> Dataset:
    """A planted low-rank movie ratings set, shaped like MovieLens 100K.

    Each rating is ``clip(round(mu + b_u + b_i + p_u . q_i + noise), 1, 5)``
    with known biases ``b_u``, ``b_i`` and latent factors ``p_u``, ``q_i``.
    Who rates what is realistic rather than uniform: item popularity falls
    off like a power law (a few blockbusters, a long tail), user activity is
    log-normal (most users rate a few dozen movies, some rate hundreds), every
    user has at least 5 ratings and every item at least one.

    Items get 1-3 genres, and their latent factors are built from genre
    directions, so movies of one genre cluster together in factor space and
    users have genre tastes a model can discover.

    Parameters
    ----------
    n_users, n_items : int
        Size of the matrix.
    n_factors : int
        Rank of the planted interaction term.
    seed : int
        Seed of the random generator; same seed, same dataset.
    density : float
        Target fraction of cells rated (about 5%, i.e. ~75k ratings by default).
    noise_std : float
        Standard deviation of the Gaussian noise added before rounding.
    global_mean : float
        The planted global mean ``mu``.

    Returns
    -------
    Dataset
        Kind ``"explicit"`` with rating scale (1, 5), integer user ids
        ``1..n_users`` and item ids ``1..n_items``, timestamps, titles and
        ``"|"``-joined genres. ``truth`` holds ``user_factors``,
        ``item_factors``, ``user_bias``, ``item_bias``, ``global_mean``,
        ``noise_std`` and ``genre_directions`` (one unit vector per genre in
        factor space, in the order of :data:`GENRES`).
    """
    if n_users < 1 or n_items < 1 or n_factors < 1:
        raise ValueError("n_users, n_items and n_factors must be at least 1")
    if not 0 < density <= 1:
        raise ValueError("density must be in (0, 1]")
    # ~100 bytes per rating on the way (draws, factors' products, the Dataset),
    # the factor matrices and genre tables per user and item.
    check_allocation(int(n_users * n_items * density) * 100 + (n_users + n_items) * (n_factors + 40) * 8 * 4,
                     f"a sample of {n_users:,} users x {n_items:,} movies", fix="ask for fewer users or movies")
    rng = np.random.default_rng(seed)

    # --- who rates what: power-law item popularity, log-normal user activity
    popularity_rank = rng.permutation(n_items)  # item ids are not sorted by popularity
    # Exponent 0.9 gives the top 10% of items ~45% of the ratings (MovieLens 100K: 43%).
    log_popularity = -0.9 * np.log1p(popularity_rank)
    min_per_user = min(5, n_items)
    mean_per_user = max(density * n_items, min_per_user + 1.0)
    sigma = 1.0
    # Mean of a log-normal is exp(m + sigma^2 / 2): pick m so the total lands near the target.
    extra = rng.lognormal(np.log(mean_per_user - min_per_user + 0.5) - sigma**2 / 2, sigma, size=n_users)
    most_per_user = max(min_per_user, int(0.7 * n_items))
    ratings_per_user = np.minimum(min_per_user + np.floor(extra).astype(np.int64), most_per_user)
    users, items = _top_k_per_row(rng, log_popularity, ratings_per_user)
    unrated = np.flatnonzero(np.bincount(items, minlength=n_items) == 0)
    if unrated.size:
        # Long-tail items nobody drew get one rating each, from random users.
        users = np.concatenate([users, rng.integers(0, n_users, size=unrated.size)])
        items = np.concatenate([items, unrated])

    # --- genres, and factors built from them
    genre_count = rng.choice([1, 2, 3], size=n_items, p=[0.45, 0.40, 0.15])
    genre_item, genre_index = _top_k_per_row(rng, np.log(_GENRE_WEIGHTS), genre_count)
    item_genre_matrix = np.zeros((n_items, len(GENRES)))
    item_genre_matrix[genre_item, genre_index] = 1.0
    genre_directions = rng.normal(size=(len(GENRES), n_factors))
    genre_directions /= np.linalg.norm(genre_directions, axis=1, keepdims=True)
    item_factors = item_genre_matrix @ genre_directions / np.sqrt(genre_count)[:, None]
    item_factors += 0.5 * rng.normal(size=(n_items, n_factors)) / np.sqrt(n_factors)
    # Each user likes some genres and dislikes others (zero-mean tastes, so the
    # interaction term does not shift the average rating).
    genre_taste = rng.normal(size=(n_users, len(GENRES)))
    user_factors = genre_taste @ genre_directions / np.sqrt(len(GENRES))
    user_factors += 0.5 * rng.normal(size=(n_users, n_factors)) / np.sqrt(n_factors)
    interaction = np.einsum("ij,ij->i", user_factors[users], item_factors[items])
    # Scale both sides equally so the interaction term has a fixed spread (0.7 stars).
    spread = interaction.std()
    scale = np.sqrt(0.7 / spread) if spread > 1e-9 else 1.0  # a single rating has no spread
    user_factors *= scale
    item_factors *= scale
    interaction *= scale**2

    # --- biases: popular movies are rated a little higher, as in real data
    user_bias = rng.normal(0.0, 0.35, size=n_users)
    popularity_z = (log_popularity - log_popularity.mean()) / max(log_popularity.std(), 1e-12)
    item_bias = rng.normal(0.0, 0.3, size=n_items) + 0.15 * popularity_z
    # Centre the biases over the ratings actually drawn, so the mean rating is ~global_mean.
    user_bias -= user_bias[users].mean()
    item_bias -= item_bias[items].mean()

    expected = global_mean + user_bias[users] + item_bias[items] + interaction
    ratings = np.clip(np.rint(expected + rng.normal(0.0, noise_std, size=expected.size)), 1, 5)

    # --- timestamps: each user is active in a burst starting somewhere in the window
    span = _LAST_RATING_TIME - _FIRST_RATING_TIME
    user_start = _FIRST_RATING_TIME + rng.integers(0, max(span - 60 * _DAY, 1), size=n_users)
    offsets = rng.exponential(30 * _DAY, size=users.size).astype(np.int64)
    timestamps = np.minimum(user_start[users] + offsets, _LAST_RATING_TIME)

    titles = _movie_titles(rng, n_items)
    genre_names = np.asarray(GENRES)
    item_genres = np.asarray(["|".join(genre_names[row > 0]) for row in item_genre_matrix])

    order = np.lexsort((items, users))
    return Dataset(
        kind="explicit",
        rows=users[order],
        cols=items[order],
        values=ratings[order],
        row_ids=np.arange(1, n_users + 1),
        col_ids=np.arange(1, n_items + 1),
        timestamps=timestamps[order],
        rating_scale=(1, 5),
        item_titles=titles,
        item_genres=item_genres,
        # Side features for hybrid models: the genres, and a planted "segment" per user (the genre they like
        # most), so that features say something true about tastes (no draw: the ratings stay as they were).
        item_features=_features.features_from_lists(
            [[f"genre={g}" for g in genre_names[row > 0]] for row in item_genre_matrix], "generated genres"),
        user_features=_features.features_from_lists(
            [[f"segment={genre_names[g]} fan"] for g in np.argmax(genre_taste, axis=1)], "generated segments"),
        name="Movies (sample)",
        source="sample:movies",
        kind_reason="built-in sample: generated ratings on a 1 to 5 star scale",
        notes=[
            f"generated: rank-{n_factors} taste factors plus user and item biases around {global_mean:g} stars, "
            f"noise {noise_std:g}, seed {seed}; titles are made up"
        ],
        truth={
            "user_factors": user_factors,
            "item_factors": item_factors,
            "user_bias": user_bias,
            "item_bias": item_bias,
            "global_mean": np.asarray(global_mean, dtype=np.float64),
            "noise_std": np.asarray(noise_std, dtype=np.float64),
            "genre_directions": genre_directions,
        },
    )


# ------------------------------------------------------------------- topics
#: Content words of each topic the corpus can draw on (none is a scikit-learn stop word).
TOPIC_WORDS = {
    "space": (
        "planet", "orbit", "rocket", "astronaut", "galaxy", "telescope", "asteroid", "comet",
        "satellite", "launch", "gravity", "nebula", "lunar", "solar", "mars", "jupiter",
        "saturn", "spacecraft", "cosmos", "meteor", "eclipse", "crater", "shuttle", "mission",
        "capsule", "starlight", "universe", "supernova", "module", "astronomer",
    ),
    "cooking": (
        "recipe", "oven", "garlic", "onion", "butter", "flour", "simmer", "bake",
        "roast", "sauce", "pepper", "salt", "kitchen", "chef", "skillet", "dough",
        "spice", "herbs", "tomato", "olive", "boil", "stir", "pastry", "broth",
        "whisk", "sugar", "vinegar", "lemon", "grill", "dessert",
    ),
    "football": (
        "goal", "striker", "referee", "penalty", "midfield", "defender", "goalkeeper", "stadium",
        "league", "match", "tackle", "offside", "coach", "fans", "kickoff", "dribble",
        "header", "corner", "trophy", "championship", "transfer", "captain", "winger", "pitch",
        "squad", "halftime", "foul", "scored", "season", "derby",
    ),
    "finance": (
        "stock", "market", "investor", "bond", "dividend", "portfolio", "inflation", "bank",
        "loan", "mortgage", "currency", "equity", "shares", "profit", "revenue", "earnings",
        "broker", "trading", "hedge", "fund", "credit", "debt", "budget", "tax",
        "asset", "capital", "valuation", "recession", "economy", "yield",
    ),
    "music": (
        "guitar", "melody", "chord", "rhythm", "piano", "drummer", "concert", "album",
        "singer", "lyrics", "orchestra", "violin", "symphony", "tempo", "harmony", "jazz",
        "bass", "chorus", "song", "tune", "band", "saxophone", "opera", "conductor",
        "composer", "recording", "vinyl", "acoustic", "tour", "ballad",
    ),
    "medicine": (
        "doctor", "patient", "hospital", "nurse", "surgery", "diagnosis", "vaccine", "infection",
        "symptom", "treatment", "dose", "clinic", "therapy", "antibiotic", "fever", "blood",
        "heart", "cancer", "tumor", "prescription", "surgeon", "virus", "immune", "disease",
        "pharmacy", "injury", "chronic", "pulse", "allergy", "recovery",
    ),
    "gardening": (
        "soil", "compost", "seeds", "bloom", "tulip", "roses", "shovel", "weeds",
        "mulch", "prune", "orchard", "greenhouse", "fertilizer", "watering", "petals", "shrub",
        "lawn", "sprout", "harvest", "vegetable", "trowel", "seedling", "perennial", "hose",
        "blossom", "garden", "flowerbed", "ivy", "daisy", "rake",
    ),
    "computing": (
        "computer", "software", "keyboard", "processor", "memory", "algorithm", "database", "server",
        "network", "compiler", "python", "code", "programmer", "laptop", "browser", "internet",
        "website", "debug", "kernel", "cache", "pixel", "byte", "encryption", "password",
        "linux", "monitor", "router", "bug", "app", "backup",
    ),
}
# Filler that real prose is full of; the vectorizer's stop word list removes it.
_STOP_WORDS = (
    "the", "a", "and", "of", "to", "in", "is", "it", "with", "for", "on", "that",
    "this", "was", "as", "at", "by", "very", "from", "we", "they", "our", "then", "so",
)


def topics_corpus(
    n_docs: int = 600,
    n_topics: int = 6,
    seed: int = 0,
    *,
    alpha: float = 0.1,
    min_words: int = 40,
    max_words: int = 120,
    stop_word_rate: float = 0.2,
) -> Dataset:
    """Documents mixed from known topics: the answer NMF topic models should find.

    Each document draws a topic mixture from a sparse Dirichlet (most
    documents are mostly about one or two topics), then each of its words
    from a topic picked by that mixture, using the topic's word list with a
    few words more frequent than others. Common stop words are sprinkled in,
    as in real prose. The texts are then TF-IDF vectorized with
    :func:`mfstudio.data.text.vectorize_texts` (English stop words removed,
    terms in fewer than 2 documents dropped).

    Parameters
    ----------
    n_docs : int
        Number of documents.
    n_topics : int
        Number of topics, at most ``len(TOPIC_WORDS)`` (8); the first six are
        space, cooking, football, finance, music and medicine.
    seed : int
        Seed of the random generator.
    alpha : float
        Dirichlet concentration of the per-document mixtures; small is sparse.
    min_words, max_words : int
        Range of content-plus-filler words per document.
    stop_word_rate : float
        Fraction of words replaced by common stop words.

    Returns
    -------
    Dataset
        Kind ``"documents"``: rows are documents ``"doc0001"``..., columns are
        terms (the vocabulary), values are TF-IDF weights, ``texts`` holds the
        documents. ``truth`` holds ``doc_topics`` (n_docs x n_topics mixture),
        ``topic_words`` (n_topics x 30 str) and ``topic_names``.
    """
    if not 1 <= n_topics <= len(TOPIC_WORDS):
        raise ValueError(f"n_topics must be between 1 and {len(TOPIC_WORDS)}")
    if n_docs < 1:
        raise ValueError("n_docs must be at least 1")
    if not 1 <= min_words <= max_words:
        raise ValueError("need 1 <= min_words <= max_words")
    # Each word is drawn, joined into a Python string and counted by the vectorizer.
    check_allocation(n_docs * max_words * 120, f"a sample of {n_docs:,} documents of up to {max_words:,} words",
                     fix="ask for fewer or shorter documents")
    rng = np.random.default_rng(seed)
    topic_names = np.asarray(list(TOPIC_WORDS)[:n_topics])
    topic_words = np.asarray([TOPIC_WORDS[name] for name in topic_names])
    words_per_topic = topic_words.shape[1]

    doc_topics = rng.dirichlet(np.full(n_topics, alpha), size=n_docs)
    doc_lengths = rng.integers(min_words, max_words + 1, size=n_docs)
    doc_of_word = np.repeat(np.arange(n_docs), doc_lengths)
    # Topic of each word by inverse CDF of its document's mixture (all words at once).
    cumulative = np.cumsum(doc_topics, axis=1)
    cumulative[:, -1] = 1.0  # guard against rounding leaving the last bin short
    word_topic = (rng.random(doc_of_word.size)[:, None] > cumulative[doc_of_word]).sum(axis=1)
    # Within a topic, a few words are frequent and most are rarer (Zipf-like).
    within = 1.0 / np.arange(1, words_per_topic + 1) ** 0.6
    word_rank = rng.choice(words_per_topic, size=doc_of_word.size, p=within / within.sum())
    words = topic_words[word_topic, word_rank].astype(object)
    is_stop = rng.random(words.size) < stop_word_rate
    stop_index = rng.integers(0, len(_STOP_WORDS), size=int(is_stop.sum()))
    words[is_stop] = np.asarray(_STOP_WORDS, dtype=object)[stop_index]

    boundaries = np.cumsum(doc_lengths)[:-1]
    texts = []
    for doc_words in np.split(words, boundaries):
        sentence = " ".join(doc_words)
        texts.append(sentence[:1].upper() + sentence[1:] + ".")
    width = max(4, len(str(n_docs)))
    doc_ids = [f"doc{i + 1:0{width}d}" for i in range(n_docs)]

    dataset = vectorize_texts(
        texts,
        doc_ids,
        weighting="tfidf",
        stop_words="english",
        min_df=2,
        name="Topics (sample)",
        source="sample:topics",
    )
    dataset.notes.insert(
        0,
        f"generated: {n_docs} documents mixed from {n_topics} known topics "
        f"({', '.join(topic_names)}), seed {seed}",
    )
    dataset.truth = {"doc_topics": doc_topics, "topic_words": topic_words, "topic_names": topic_names}
    dataset.kind_reason = f"built-in sample: {n_docs} generated texts, read as documents (TF-IDF)"
    return dataset


# --------------------------------------------------------------------- bars
def bars(
    n_images: int = 400,
    size: int = 8,
    seed: int = 0,
    *,
    bar_probability: float | None = None,
    noise: float = 0.0,
) -> Dataset:
    """The "bars" images that NMF takes apart into their bars.

    Each ``size`` x ``size`` image is the plain sum of a few of the
    ``2 * size`` possible bars (every horizontal and every vertical line of
    ones), as in Lee & Seung's and Hoyer's (2004) experiments. Each bar is on
    independently with ``bar_probability`` (default ``1 / size``: two bars
    per image on average), and an image with none gets one at random.
    Where a horizontal and a vertical bar cross, the pixel is 2: the sum is
    not clipped, so the images are exactly ``activations @ components``, a
    non-negative rank ``2 * size`` matrix.

    Parameters
    ----------
    n_images : int
        Number of images (rows).
    size : int
        Height and width of each image.
    seed : int
        Seed of the random generator.
    bar_probability : float, optional
        Chance of each bar being on.
    noise : float
        Standard deviation of non-negative (absolute Gaussian) noise added to
        every pixel; 0 (default) for exact images.

    Returns
    -------
    Dataset
        Kind ``"images"``, fully observed (zeros are entries),
        ``image_shape == (size, size)``, row ids ``"img0001"``..., column ids
        ``"p{row}_{col}"``. ``truth["components"]`` is the bar images
        (2*size x size*size; horizontal bars first), ``truth["activations"]``
        which bars each image has (n_images x 2*size, 0/1).
    """
    if n_images < 1 or size < 1:
        raise ValueError("n_images and size must be at least 1")
    if noise < 0:
        raise ValueError("noise must be non-negative")
    # Like an image folder: ~64 bytes per pixel of every image, ~130 per pixel name.
    check_allocation(n_images * size * size * 64 + size * size * (130 + 16 * size),
                     f"a sample of {n_images:,} images of {size:,}x{size:,} pixels", fix="ask for fewer or smaller images")
    rng = np.random.default_rng(seed)
    n_bars = 2 * size
    probability = 1.0 / size if bar_probability is None else float(bar_probability)

    components = np.zeros((n_bars, size, size))
    for index in range(size):
        components[index, index, :] = 1.0  # horizontal bar: one row of the image
        components[size + index, :, index] = 1.0  # vertical bar: one column
    components = components.reshape(n_bars, size * size)

    activations = (rng.random((n_images, n_bars)) < probability).astype(np.float64)
    blank = np.flatnonzero(activations.sum(axis=1) == 0)
    activations[blank, rng.integers(0, n_bars, size=blank.size)] = 1.0

    pixels = activations @ components
    if noise > 0:
        pixels = pixels + np.abs(rng.normal(0.0, noise, size=pixels.shape))

    n_pixels = size * size
    width = max(4, len(str(n_images)))
    return Dataset(
        kind="images",
        rows=np.repeat(np.arange(n_images), n_pixels),
        cols=np.tile(np.arange(n_pixels), n_images),
        values=pixels.ravel(),
        row_ids=np.asarray([f"img{i + 1:0{width}d}" for i in range(n_images)]),
        col_ids=np.asarray([f"p{r}_{c}" for r in range(size) for c in range(size)]),
        image_shape=(size, size),
        name="Bars (sample)",
        source="sample:bars",
        kind_reason=f"built-in sample: {n_images} generated {size}x{size} images, one row of pixels per image",
        notes=[
            f"generated: each {size}x{size} image is the sum of some of {n_bars} bars"
            + (f", plus noise {noise:g}" if noise > 0 else "")
            + f"; seed {seed}"
        ],
        truth={"components": components, "activations": activations},
    )


# ----------------------------------------------------------------- registry
@dataclass(frozen=True)
class SampleInfo:
    """One built-in sample, as menus and the CLI list it.

    Attributes
    ----------
    name : str
        Short name used by :func:`load_sample` and the CLI (``"movies"``).
    title : str
        Menu text.
    description : str
        One plain-language sentence.
    kind : str
        The :class:`Dataset` kind it produces.
    make : callable
        Generates the dataset; keyword arguments are passed through.
    """

    name: str
    title: str
    description: str
    kind: str
    make: Callable[..., Dataset]


SAMPLES: dict[str, SampleInfo] = {
    info.name: info
    for info in (
        SampleInfo(
            "toy-5x4",
            "Toy ratings 5 x 4 (tutorial)",
            "The 5 users by 4 items rating matrix that the classic matrix factorization tutorial fits by hand.",
            "explicit",
            toy_ratings_5x4,
        ),
        SampleInfo(
            "toy-5x3",
            "Toy ratings 5 x 3 (tutorial)",
            "The tutorials' smallest example: 5 users by 3 items, 0 = unknown, two groups that share no item.",
            "explicit",
            toy_ratings_5x3,
        ),
        SampleInfo(
            "digits",
            "Digits (scikit-learn, 8 x 8 images)",
            "1,797 handwritten digits shipped with scikit-learn: NMF finds strokes, SVD signed eigen-digits.",
            "images",
            digits,
        ),
        SampleInfo(
            "movies",
            "Movies (generated ratings)",
            "About 75,000 made-up movie ratings by 1,000 users with hidden tastes and genres, "
            "shaped like MovieLens.",
            "explicit",
            movies,
        ),
        SampleInfo(
            "topics",
            "Topics (generated documents)",
            "600 short documents mixed from six known topics, for finding topics with NMF.",
            "documents",
            topics_corpus,
        ),
        SampleInfo(
            "bars",
            "Bars (generated images)",
            "400 small images made of horizontal and vertical bars, which NMF should take apart into the bars.",
            "images",
            bars,
        ),
    )
}


def load_sample(name: str, **kwargs) -> Dataset:
    """Generate the built-in sample called ``name``.

    Parameters
    ----------
    name : str
        One of the keys of :data:`SAMPLES`.
    **kwargs
        Passed to the sample's generator (``seed=1``, ``n_users=500``...).

    Returns
    -------
    Dataset

    Raises
    ------
    DataError
        ``name`` is not a known sample; the message lists the valid names.
    """
    info = SAMPLES.get(name)
    if info is None:
        raise DataError(f"there is no sample called {name!r}", fix=f"choose one of {', '.join(SAMPLES)}")
    return info.make(**kwargs)
