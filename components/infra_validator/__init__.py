"""InfraValidator: TFX's executor, with a model server run as a local process where there is no container."""
