"""Grafana boards as code, their generated JSON and the provisioning files.

Each board has one definition in :mod:`dashboards.boards`, built with Grafana's
foundation SDK (``grafana-foundation-sdk``). ``python -m dashboards.generate`` writes the
JSON of every board to ``dashboards/json/<uid>.json`` with sorted keys, and Grafana loads
those files through ``dashboards/provisioning/``. Every query is InfluxQL, which runs on
InfluxDB 1.8, on 2.x through a DBRP mapping, and on 3.x.
"""
