"""CSV -> tf.Examples with pyarrow: types, null markers, missing cells, file matching."""
import pyarrow as pa
import pytest

from components.csv_example_gen import splits
from pipelines.shared import csv_tables, data_files


def write_csv(tmp_path, text, name="data.csv"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_csv_types_nulls_and_missing_cells(tmp_path):
    import tensorflow as tf

    path = write_csv(tmp_path, "species,mass,count,when\nAdelie,3750.5,3,2019-01-01\nNA,NA,,2019-01-02\n")
    examples = [tf.train.Example.FromString(e) for e in csv_tables.csv_to_examples(path, ["NA", ""])]
    first, second = (e.features.feature for e in examples)
    assert first["species"].bytes_list.value == [b"Adelie"]
    assert first["mass"].float_list.value == [3750.5]
    assert first["count"].int64_list.value == [3]
    assert first["when"].bytes_list.value == [b"2019-01-01"]  # dates stay text
    # Missing cells carry no value (TFDV counts them as missing).
    for name in ("species", "mass", "count"):
        assert second[name].WhichOneof("kind") is None
    assert second["when"].bytes_list.value == [b"2019-01-02"]


def test_a_word_in_a_numeric_column_makes_it_a_string_column(tmp_path):
    path = write_csv(tmp_path, "fare\n1.5\nabc\n")
    batch = csv_tables.table_to_record_batch(csv_tables.read_csv(path, [""]))
    assert batch.schema.field("fare").type == pa.list_(pa.binary())


def test_matching_files_reports_an_empty_match(tmp_path):
    write_csv(tmp_path, "a\n1\n", "one.csv")
    assert data_files.matching_files(str(tmp_path), "*.csv") == [str(tmp_path / "one.csv")]
    with pytest.raises(FileNotFoundError, match="no file matches '\\*.tsv'"):
        data_files.matching_files(str(tmp_path), "*.tsv")


@pytest.mark.parametrize("content, line, excerpt", [
    (b"a,b,c\n1,2,3\nann@mail.example,+49 151 2345,Anna Keller,7\n", 3, "the line has 4 fields where the header has 3"),
    (b"a,b,c\n1,2,3\n\x00\xff\xfe\x01junk,\x80\n", 3, "the line is not UTF-8 text (byte 2)"),  # binary garbage
])
def test_an_unreadable_csv_names_the_file_and_line_and_never_echoes_its_values(tmp_path, content, line, excerpt):
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with pytest.raises(csv_tables.UnreadableCsv) as info:
        csv_tables.read_csv(str(path), [""])
    message = str(info.value)
    assert message.startswith(f"{path}: cannot read as CSV: line {line}: CSV parse error") and excerpt in message
    assert message.isprintable()
    for value in ("ann@mail", "2345", "Anna", "junk"):  # personal values never reach a message, nor a log
        assert value not in message


# --- ingestion in batches: splits, files, types across batches -------------------------------------------

ROWS = "\n".join(f"{i},{i * 0.5},{'ab'[i % 2]}" for i in range(3000))


def read_records(directory):
    import tensorflow as tf

    files = sorted(str(p) for p in directory.iterdir())
    return [tf.train.Example.FromString(r.numpy()) for r in tf.data.TFRecordDataset(files, compression_type="GZIP")]


def ids_of(examples):
    return sorted(e.features.feature["id"].int64_list.value[0] for e in examples)


def test_rows_are_split_by_hash_buckets_the_same_whatever_the_batch_size(tmp_path):
    path = write_csv(tmp_path, "id,value,kind\n" + ROWS + "\n")
    ids_by_block_size = {}
    for block_size in (1 << 10, 1 << 20):  # many batches, one batch
        dirs = [tmp_path / f"{block_size}" / name for name in ("train", "eval")]
        counts = splits.write_splits([path], [""], [str(d) for d in dirs], [2, 1], block_size=block_size).rows
        train, evaluation = read_records(dirs[0]), read_records(dirs[1])
        assert counts == [len(train), len(evaluation)] and sum(counts) == 3000
        assert 0.62 < counts[0] / 3000 < 0.71  # 2 buckets of 3
        ids_by_block_size[block_size] = (ids_of(train), ids_of(evaluation))
    assert ids_by_block_size[1 << 10] == ids_by_block_size[1 << 20]


def test_the_eval_cap_moves_the_rest_to_train_and_leaves_small_data_split_as_tfx_would(tmp_path):
    assert splits.capped_hash_buckets([2, 1], 1, rows=3000, max_rows=1000) == [2, 1]  # exactly 1/3: no cap
    assert splits.capped_hash_buckets([2, 1], 1, rows=3000, max_rows=None) == [2, 1]
    assert splits.capped_hash_buckets([2, 1], 1, rows=1_000_000, max_rows=100_000) == [9000, 1000]
    assert splits.capped_hash_buckets([3, 1, 1], 2, rows=100, max_rows=1) == [7425, 2475, 100]
    assert splits.capped_hash_buckets([1, 1], 0, rows=10**9, max_rows=1) == [1, 9999]  # never an empty split

    path = write_csv(tmp_path, "id,value,kind\n" + ROWS + "\n")
    assert splits.count_rows([path, path]) == 6000
    assert splits.count_rows([write_csv(tmp_path, "id,value\n", "header.csv"), write_csv(tmp_path, "", "empty.csv")]) == 0
    buckets = splits.capped_hash_buckets([2, 1], 1, splits.count_rows([path]), max_rows=300)
    dirs = [tmp_path / name for name in ("train", "eval")]
    counts = splits.write_splits([path], [""], [str(d) for d in dirs], buckets).rows
    assert sum(counts) == 3000 and 240 < counts[1] < 360  # about 300 of 3000, by hash


def test_the_split_of_a_row_is_the_same_in_every_process(tmp_path, project):
    import subprocess
    import sys

    path = write_csv(tmp_path, "id,value,kind\n" + ROWS + "\n")
    code = ("import sys; from pipelines.shared.csv_tables import read_batches; "
            "from components.csv_example_gen.splits import row_splits; "
            "b = next(read_batches(sys.argv[1], [''])); print(row_splits(b, [2, 1]).tolist())")
    outputs = {subprocess.run([sys.executable, "-c", code, path], capture_output=True, text=True, cwd=project,
                              timeout=120).stdout for _ in range(2)}
    assert len(outputs) == 1 and outputs.pop().startswith("[")


def test_files_rotate_and_are_named_of_n_and_an_empty_split_still_has_a_readable_file(tmp_path):
    writer = splits.SplitWriter(str(tmp_path / "full"), shard_bytes=1000)
    for start in range(0, 300, 30):
        writer.write([f"record {i}".encode() for i in range(start, start + 30)])
    paths = writer.close()
    assert len(paths) > 2 and all(p.endswith(f"-of-{len(paths):05d}.gz") for p in paths)
    import tensorflow as tf

    records = [r.numpy() for r in tf.data.TFRecordDataset(sorted(paths), compression_type="GZIP")]
    assert records == [f"record {i}".encode() for i in range(300)]

    empty = splits.SplitWriter(str(tmp_path / "empty"))
    [path] = empty.close()
    assert list(tf.data.TFRecordDataset([path], compression_type="GZIP")) == []


def test_a_word_after_the_first_batch_makes_the_column_text_as_in_a_whole_file_read(tmp_path):
    path = write_csv(tmp_path, "id,fare\n" + "\n".join(f"{i},{i}.5" for i in range(2000)) + "\n2000,unknown\n")
    dirs = [tmp_path / "train", tmp_path / "eval"]
    counts = splits.write_splits([path], [""], [str(d) for d in dirs], [1, 1], block_size=1 << 10).rows
    assert sum(counts) == 2001
    fares = {e.features.feature["fare"].bytes_list.value[0] for e in read_records(dirs[0]) + read_records(dirs[1])}
    assert b"unknown" in fares and b"3.5" in fares  # a string column, as csv.read_csv would make it


def test_uris_are_read_and_written_through_tfxs_file_system_layer():
    """As on Kubeflow (gs://...): here TensorFlow's in-memory file system stands in for an object store."""
    import tensorflow as tf

    with tf.io.gfile.GFile("ram://bucket/in/data.csv", "w") as f:
        f.write("id,value,kind\n" + ROWS + "\n")
    files = data_files.matching_files("ram://bucket/in", "*.csv")
    assert files == ["ram://bucket/in/data.csv"]
    counts = splits.write_splits(files, [""], ["ram://bucket/out/Split-train", "ram://bucket/out/Split-eval"], [2, 1]).rows
    assert sum(counts) == 3000
    assert tf.io.gfile.listdir("ram://bucket/out/Split-train") == ["data_tfrecord-00000-of-00001.gz"]
    records = tf.data.TFRecordDataset(tf.io.gfile.glob("ram://bucket/out/Split-*/*"), compression_type="GZIP")
    assert sum(1 for _ in records) == 3000


# --- missing labels and the schema's value types ---------------------------------------------------------


def test_rows_missing_their_label_are_counted_per_split_and_never_written(tmp_path):
    rows = "\n".join(f"{i},{i * 0.5},{'' if i % 4 == 0 else 'A' if i % 3 else 'B'}" for i in range(600))
    path = write_csv(tmp_path, "id,value,species\n" + rows + "\n")
    dirs = [tmp_path / name for name in ("train", "eval")]
    written = splits.write_splits([path], [""], [str(d) for d in dirs], [2, 1], block_size=1 << 10,
                                     label_columns=["species"])
    examples = read_records(dirs[0]) + read_records(dirs[1])
    assert sum(written.unlabelled) == 150 and all(n > 0 for n in written.unlabelled)  # every 4th row, in both splits
    assert written.rows == [len(read_records(dirs[0])), len(read_records(dirs[1]))] and sum(written.rows) == 450
    assert all(e.features.feature["species"].bytes_list.value for e in examples)
    assert 0 not in ids_of(examples) and 1 in ids_of(examples)
    # The same rows split as they would without the label check: a row's split does not depend on it.
    plain = [tmp_path / "plain" / name for name in ("train", "eval")]
    splits.write_splits([path], [""], [str(d) for d in plain], [2, 1])
    assert set(ids_of(read_records(dirs[0]))) <= set(ids_of(read_records(plain[0])))


def test_a_label_computed_from_two_columns_is_missing_when_either_is(tmp_path):
    path = write_csv(tmp_path, "tips,fare,x\n1,10,a\n,10,b\n1,,c\n2,20,d\n")
    dirs = [tmp_path / "all"]
    written = splits.write_splits([path], [""], [str(d) for d in dirs], [1], label_columns=["tips", "fare"])
    assert written.rows == [2] and written.unlabelled == [1 + 1]


def test_whole_numbers_in_a_float_column_are_floats_when_the_schema_says_so(tmp_path):
    import tensorflow as tf

    path = write_csv(tmp_path, "age,zip,count\n30,007,1\n40,010,2\n")
    types = {"age": "FLOAT", "zip": "BYTES", "count": "INT"}
    [first, _] = [tf.train.Example.FromString(e).features.feature for e in csv_tables.csv_to_examples(path, [""], types)]
    assert first["age"].float_list.value == [30.0] and first["zip"].bytes_list.value == [b"007"]
    assert first["count"].int64_list.value == [1]
    dirs = [tmp_path / "split"]
    splits.write_splits([path], [""], [str(d) for d in dirs], [1], value_types=types)
    assert read_records(dirs[0])[0].features.feature["age"].float_list.value == [30.0]


def test_a_cell_that_does_not_fit_the_schemas_type_names_file_line_column_and_type(tmp_path):
    path = write_csv(tmp_path, "age,name\n30,a\n40,b\nforty,c\n")
    with pytest.raises(csv_tables.ValueNotOfType) as info:
        csv_tables.read_csv(path, [""], {"age": "FLOAT"})
    assert str(info.value) == f"{path}, line 4, column 'age': 'forty' is not a number (the schema's type for it is FLOAT)"
    # Ingestion reads that file's column as text instead, so the schema check lists it at the gate.
    dirs = [tmp_path / "split"]
    written = splits.write_splits([path], [""], [str(d) for d in dirs], [1], value_types={"age": "FLOAT"})
    assert written.rows == [3]
    assert read_records(dirs[0])[0].features.feature["age"].bytes_list.value == [b"30"]
