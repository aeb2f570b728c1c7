"""Incident correlation: anomalies grouped into incidents at the right scope, with inhibition."""

from pipeline.incidents.cluster_map import ClusterMap
from pipeline.incidents.correlator import Correlator
from pipeline.incidents.models import Incident, IncidentUpdate
from pipeline.incidents.rules import CorrelatorSettings, FaultClassRule

__all__ = ["ClusterMap", "Correlator", "CorrelatorSettings", "FaultClassRule", "Incident", "IncidentUpdate"]
