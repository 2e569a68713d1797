"""Columns of tf.Example-shaped Arrow data (each cell a list of values, as TFX's readers give them) as one
value per row."""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


def first_values(column):
    """A column as one value per row: list columns (tf.Example-shaped serving data) give each row's first value,
    or null; others are returned as they are."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    if not (pa.types.is_list(column.type) or pa.types.is_large_list(column.type)):
        return column
    rows, first = np.unique(pc.list_parent_indices(column).to_numpy(), return_index=True)
    taken = pc.take(pc.list_flatten(column), pa.array(first, pa.int64()))
    positions = np.full(len(column), -1)
    positions[rows] = np.arange(len(rows))
    values = pc.take(taken, pa.array(np.where(positions >= 0, positions, 0), pa.int64()))
    return pc.if_else(pa.array(positions >= 0), values, pa.nulls(len(column), values.type))
