"""Where an anomaly or incident sits: node, GPU, rack, leaf switch and jobs, from the cluster map."""

from __future__ import annotations

from dataclasses import dataclass

from detectors.anomaly import Anomaly
from pipeline.incidents.cluster_map import ClusterMap
from pipeline.incidents.models import Incident
from pipeline.incidents.rules import Domain, Scope


@dataclass(frozen=True)
class Location:
    """Place of one anomaly, as precise as the anomaly and the cluster map tell."""

    node: str | None
    gpu: int | None
    rack: str | None
    switch: str | None
    jobs: tuple[str, ...]

    @property
    def member(self) -> str | None:
        """Return the GPU (``node/gpu``) or node that reported, or None above node level."""
        if self.node is None:
            return None
        return self.node if self.gpu is None else f"{self.node}/{self.gpu}"


@dataclass(frozen=True)
class Place:
    """Scope and entity of the incident an anomaly belongs to, with the incident's location."""

    scope: Scope
    entity: str
    location: Location


def locate(anomaly: Anomaly, cluster_map: ClusterMap) -> Location:
    """Return the location of an anomaly, filling rack, switch and jobs from the cluster map."""
    node = anomaly.entity if anomaly.entity_kind in ("gpu", "node") else None
    rack = anomaly.rack
    if rack is None and node is not None:
        rack = cluster_map.rack_of(node)
    if rack is None and anomaly.entity_kind == "rack":
        rack = anomaly.entity

    switch = cluster_map.switch_of(node) if node is not None else None
    if node is not None:
        jobs = cluster_map.jobs_of_node(node)
    elif anomaly.entity_kind == "job":
        jobs = (anomaly.entity,)
    elif anomaly.entity_kind == "rack":
        jobs = cluster_map.jobs_of_nodes(cluster_map.nodes_of_rack(anomaly.entity))
    else:
        jobs = ()
    return Location(node=node, gpu=anomaly.gpu, rack=rack, switch=switch, jobs=jobs)


def place_of(anomaly: Anomaly, location: Location, scope: Scope, cluster_map: ClusterMap) -> Place:
    """Return the incident place of an anomaly at ``scope``.

    When the anomaly lacks what the scope needs (a rack-scope class reported for a series
    without a rack), the incident falls back to the anomaly's own entity and kind.
    """
    if scope == "gpu" and location.node is not None and location.gpu is not None:
        return Place("gpu", location.node, location)
    if scope in ("gpu", "node") and location.node is not None:
        return Place("node", location.node, Location(location.node, None, location.rack, location.switch, location.jobs))
    if scope == "rack" and location.rack is not None:
        jobs = cluster_map.jobs_of_nodes(cluster_map.nodes_of_rack(location.rack)) or location.jobs
        return Place("rack", location.rack, Location(None, None, location.rack, None, jobs))
    if scope == "switch" and location.switch is not None:
        jobs = cluster_map.jobs_of_nodes(cluster_map.nodes_of_switch(location.switch))
        return Place("switch", location.switch, Location(None, None, None, location.switch, jobs))
    if scope == "job" and location.jobs:
        # NOTE: a node in several jobs files its job-scope anomalies under the first job by name.
        return Place("job", location.jobs[0], Location(None, None, None, None, location.jobs[:1]))
    return Place(anomaly.entity_kind, anomaly.entity, location)


def domain_values(location: Location, domain: Domain) -> set[str]:
    """Return the values of one inhibition domain (node, rack, switch or jobs) at a location."""
    if domain == "node":
        return {location.node} if location.node is not None else set()
    if domain == "rack":
        return {location.rack} if location.rack is not None else set()
    if domain == "switch":
        return {location.switch} if location.switch is not None else set()
    return set(location.jobs)


def incident_location(incident: Incident) -> Location:
    """Return the location stored on an incident."""
    return Location(node=incident.node, gpu=incident.gpu, rack=incident.rack, switch=incident.switch, jobs=incident.jobs)
