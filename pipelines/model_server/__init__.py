"""Model servers that answer TF Serving's gRPC API, for the InfraValidator and for `mlops serve` alike.

platforms.py   the platforms and their names, which one is here (the TF Serving binary, Docker, the stand-in)
processes.py   starting a server process, waiting for its port, stopping its process group; the stand-in's command
stand_in.py    the stand-in server: TensorFlow loading the SavedModel behind TF Serving's gRPC API (a script)
"""
