"""CSV -> tf.Examples with pyarrow: types, null markers, missing cells, file matching."""
import pyarrow as pa
import pytest

from components.csv_example_gen import logic as csv_logic


def write_csv(tmp_path, text, name="data.csv"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_csv_types_nulls_and_missing_cells(tmp_path):
    import tensorflow as tf

    path = write_csv(tmp_path, "species,mass,count,when\nAdelie,3750.5,3,2019-01-01\nNA,NA,,2019-01-02\n")
    examples = [tf.train.Example.FromString(e) for e in csv_logic.csv_to_examples(path, ["NA", ""])]
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
    batch = csv_logic.table_to_record_batch(csv_logic.read_csv(path, [""]))
    assert batch.schema.field("fare").type == pa.list_(pa.binary())


def test_matching_files_reports_an_empty_match(tmp_path):
    write_csv(tmp_path, "a\n1\n", "one.csv")
    assert csv_logic.matching_files(str(tmp_path), "*.csv") == [str(tmp_path / "one.csv")]
    with pytest.raises(FileNotFoundError, match="no file matches '\\*.tsv'"):
        csv_logic.matching_files(str(tmp_path), "*.tsv")


@pytest.mark.parametrize("content, line, excerpt", [
    (b"a,b,c\n1,2,3\n4,5,6,7\n", 3, "the line: 4,5,6,7"),                                     # a ragged row
    (b"a,b,c\n1,2,3\n\x00\xff\xfe\x01junk,\x80\n", 3, "the line: \\x00\\xff\\xfe\\x01junk,\\x80"),  # binary garbage
])
def test_an_unreadable_csv_names_the_file_and_line_and_never_echoes_raw_bytes(tmp_path, content, line, excerpt):
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with pytest.raises(csv_logic.UnreadableCsv) as info:
        csv_logic.read_csv(str(path), [""])
    message = str(info.value)
    assert message.startswith(f"{path}: cannot read as CSV: line {line}: CSV parse error") and excerpt in message
    assert message.isprintable()
