"""Evaluation of detection through the real pipeline: ``qianliyan evaluate --pipeline``.

Each part starts its own ``qianliyan worker`` (consumer group, topic prefix and InfluxDB
database of its own), publishes its input to Kafka, waits until the worker has caught up,
reads the ``anomalies`` topic back and scores it with :mod:`detectors.evaluation`.

- :mod:`pipeline.evaluation.worker_run`: start and stop a worker, wait until it caught up,
  read its anomalies, check that Kafka and InfluxDB respond.
- :mod:`pipeline.evaluation.parts`: the four parts (emulator, fault-free, smd, nab) and
  their results.
- :mod:`pipeline.evaluation.targets`: the detection targets and whether a run meets them.
- :mod:`pipeline.evaluation.tables`: the plain-text tables and target lines.
- :mod:`pipeline.evaluation.run`: runs the chosen parts one after the other.
"""
