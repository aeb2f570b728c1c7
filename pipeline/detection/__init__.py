"""Run the detectors of ``detectors/`` on validated messages inside the worker."""
