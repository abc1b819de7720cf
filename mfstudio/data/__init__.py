"""Loading, generating and splitting data: files in, :class:`Dataset` out.

Nothing here imports Qt: the CLI, the GUI and the tests share these functions.
"""

from .dataset import KINDS, Dataset, DatasetSummary, common_id_space
from .download import download_movielens_100k
from .errors import DataError
from .loaders import can_load, load, open_data
from .samples import SAMPLES, load_sample
from .splits import Split, kfold, random_split, split_from_spec, temporal_split, user_split

__all__ = [
    "KINDS",
    "SAMPLES",
    "DataError",
    "Dataset",
    "DatasetSummary",
    "Split",
    "can_load",
    "common_id_space",
    "download_movielens_100k",
    "kfold",
    "load",
    "load_sample",
    "open_data",
    "random_split",
    "split_from_spec",
    "temporal_split",
    "user_split",
]
