"""Everything that opens or reads ML Metadata (SQLite or MySQL alike).

store.py       the store a config names: connection config, probe, open (clear errors, no password shown)
reader.py      MetadataReader: the queries every reader shares (runs, executions, artifacts by key, producers)
runs.py        one run's summary and the list of runs, with their outcomes
lineage.py     what a model came from, and what came from an input
registry.py    pushed model versions, the served one, rollback
evaluation.py  the Evaluator's metrics and failed thresholds, read without TensorFlow
recovery.py    what killed runs left: executions still RUNNING canceled, their partial outputs removed
"""
