"""`mlops`: write a config for a table, validate it, run its pipeline here and print what happened; read runs,
lineage and model versions back from ML Metadata; serve, roll out, score and explain; compile and submit for Kubeflow.

app.py        the table of commands, the parser built from it, and main()
errors.py     errors to exit codes and one-line messages, in one place
project.py    init, validate, schema, run
reading.py    runs, lineage, models, report
delivery.py   serve, rollout, rollback, predict, explain, monitor
kubeflow.py   compile, submit
"""
from pipelines.cli.app import console_main, main, run_command

__all__ = ["console_main", "main", "run_command"]
