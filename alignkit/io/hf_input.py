"""Hugging Face ``datasets`` input: a ``Dataset`` object, a ``save_to_disk`` folder,
or a Parquet file, read as ``(row number, row)`` pairs for the format adapters.

Row numbers are 0-based, like ``dataset[N]``, and messages say ``row N``. Keys
whose value is ``null`` are left out of each row: Arrow fills a column missing
from a row with ``null``, which is not the same as a key the row has.

Example::

    >>> import datasets
    >>> ds = datasets.Dataset.from_list([{"question": "2+2?", "answer": "4", "x": None}])
    >>> list(dataset_rows(ds))
    [(0, {'question': '2+2?', 'answer': '4'})]
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Final

from alignkit.errors import UsageError

#: Rows per Arrow batch when streaming a Parquet file.
PARQUET_BATCH_ROWS: Final = 1024


def _clean(row: Mapping[str, object]) -> dict[str, object]:
    return {key: value for key, value in row.items() if value is not None}


def dataset_rows(dataset: Any) -> Iterator[tuple[int, dict[str, object]]]:
    """The rows of a ``datasets.Dataset`` (or any iterable of dicts), numbered from 0."""
    for number, row in enumerate(dataset):
        if not isinstance(row, Mapping):
            raise UsageError(f"row {number} is a {type(row).__name__}, not a mapping of columns")
        yield number, _clean(row)


def is_dataset_folder(path: str | os.PathLike[str]) -> bool:
    """True for a folder written by ``Dataset.save_to_disk`` / ``DatasetDict.save_to_disk``."""
    folder = Path(path)
    return folder.is_dir() and (
        (folder / "dataset_info.json").is_file()
        or (folder / "dataset_dict.json").is_file()
        or (folder / "state.json").is_file()
    )


def load_folder(path: str | os.PathLike[str], split: str | None = None) -> Any:
    """Load a ``save_to_disk`` folder; a ``DatasetDict`` needs ``split`` unless it has one split.

    Raises:
        UsageError: not a dataset folder, or the split is missing or not given.
    """
    import datasets

    name = os.fspath(path)
    if not is_dataset_folder(path):
        raise UsageError(
            f"{name}: not a dataset folder (no dataset_info.json or dataset_dict.json);"
            " pass a folder written by Dataset.save_to_disk, or the data files themselves"
        )
    loaded = datasets.load_from_disk(name)
    if isinstance(loaded, datasets.DatasetDict):
        splits = sorted(loaded)
        if split is None and len(splits) == 1:
            split = splits[0]
        if split is None or split not in loaded:
            given = "no split was given" if split is None else f"there is no split {split!r}"
            raise UsageError(f"{name}: {given}; choose one of {splits} with --split")
        return loaded[split]
    if split is not None:
        raise UsageError(f"{name}: holds a single Dataset, so --split {split} does not apply")
    return loaded


def folder_rows(
    path: str | os.PathLike[str], split: str | None = None
) -> Iterator[tuple[int, dict[str, object]]]:
    """The rows of a ``save_to_disk`` folder (see :func:`load_folder`)."""
    return dataset_rows(load_folder(path, split))


def parquet_rows(path: str | os.PathLike[str]) -> Iterator[tuple[int, dict[str, object]]]:
    """Stream the rows of a Parquet file in batches, numbered from 0.

    Raises:
        UsageError: the file is missing or not Parquet.
    """
    import pyarrow.parquet as pq

    name = os.fspath(path)
    try:
        reader = pq.ParquetFile(name)
    except FileNotFoundError:
        raise UsageError(f"{name}: no such file; check the path") from None
    except Exception as err:  # pyarrow raises ArrowInvalid and friends
        raise UsageError(f"{name}: not a readable Parquet file: {err}") from None
    number = 0
    for batch in reader.iter_batches(batch_size=PARQUET_BATCH_ROWS):
        for row in batch.to_pylist():
            yield number, _clean(row)
            number += 1
