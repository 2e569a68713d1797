"""The ground floor: contracts every layer shares, importing nothing of the project above it.

artifact_files.py    reading artifact folders, local or URI; the file names TFX components write; schema types
anomalies.py         TFDV's anomalies and empty splits as one list, for the gate, the summary and monitoring
distances.py         drift and skew distances between two statistics, and the DriftCheck record
significance.py      chi-square and KS tests for samples too small for distances
serving_layout.py    the serving folder: version folders, staging, what travels inside a pushed version
version_labels.py    which versions are served under which labels (stable, canary), and how rollouts move them
csv_tables.py        CSV files to Arrow tables and tf.Examples, with the schema's types; read errors in words
data_files.py        which files a run or command reads (patterns, spans) and the one CSV header reader
prediction_tables.py predictions as a table (CSV or Parquet), from BulkInferrer or a model server
metric_names.py      names of the metrics the pipeline adds to TFMA's, and of the compared models
component_ids.py     the pipeline's node ids
console.py           what the CLI prints, the run log, library noise kept out of the terminal
masking.py           the forms a secret takes in text, and masking them
errors.py            the one base of the project's errors, with the exit code each maps to
"""
