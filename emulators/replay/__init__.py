"""Replay of recorded real data (SMD, NAB, nvidia-smi, dcgm-exporter, kernel logs) into Kafka.

Each parser module turns one source format into :class:`emulators.cluster.Record` values
that validate against :mod:`pipeline.schemas`; :mod:`emulators.replay.run` publishes them.
"""
