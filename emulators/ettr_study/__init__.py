"""The effective-training-time (ETTR) study: a seeded Monte Carlo model of a large training job.

``qianliyan ettr`` runs it. :mod:`.model` holds the parameters, :mod:`.failures` draws the
failures, :mod:`.simulate` replays them against a recovery policy, :mod:`.report` prints the
result.
"""
