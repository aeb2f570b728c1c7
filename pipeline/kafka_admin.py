"""Create the pipeline's Kafka topics before producers or consumers use them."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterable

from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

from pipeline import topics
from pipeline.errors import ServiceUnavailableError
from pipeline.settings import KafkaSettings

logger = logging.getLogger(__name__)


def all_topic_names(settings: KafkaSettings) -> list[str]:
    """Return the full names of every topic the pipeline reads or writes."""
    return [settings.topic(name) for name in (
        *topics.INPUT_TOPICS, topics.DEADLETTER, topics.ANOMALIES, topics.INCIDENTS, topics.ACTIONS, topics.ACTION_RESULTS, topics.FAULTS_TRUTH
    )]


def broker_reachable(settings: KafkaSettings, timeout_seconds: float = 3.0) -> bool:
    """Return whether any bootstrap server accepts a TCP connection within ``timeout_seconds``."""
    for server in settings.bootstrap_servers.split(","):
        host, _, port = server.strip().rpartition(":")
        try:
            with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_seconds):
                return True
        except (OSError, ValueError):
            continue
    return False


def ensure_topics(settings: KafkaSettings, names: Iterable[str] | None = None) -> list[str]:
    """Create the topics that do not exist yet and return the names that were created.

    Raises:
        ServiceUnavailableError: no broker responded at ``settings.bootstrap_servers``.
    """
    requested = list(names) if names is not None else all_topic_names(settings)
    # A closed port fails in milliseconds here; the admin client would retry for its whole timeout.
    if not broker_reachable(settings):
        raise ServiceUnavailableError(
            f"no Kafka broker accepts connections at {settings.bootstrap_servers}; start one with "
            "'scripts/services.sh up' or set QIANLIYAN_KAFKA__BOOTSTRAP_SERVERS"
        )
    try:
        admin = KafkaAdminClient(
            bootstrap_servers=settings.bootstrap_servers.split(","),
            client_id="qianliyan-admin",
            request_timeout_ms=settings.request_timeout_ms,
        )
    except KafkaError as exc:
        raise ServiceUnavailableError(
            f"no Kafka broker responded at {settings.bootstrap_servers}; start one with "
            "'scripts/services.sh up' or set QIANLIYAN_KAFKA__BOOTSTRAP_SERVERS"
        ) from exc

    try:
        existing = set(admin.list_topics())
        missing = [name for name in requested if name not in existing]
        if missing:
            new_topics = [NewTopic(name, num_partitions=settings.topic_partitions, replication_factor=settings.topic_replication_factor) for name in missing]
            try:
                admin.create_topics(new_topics)
            except TopicAlreadyExistsError:
                logger.info("topics were created concurrently by another client topics=%s", ",".join(missing))
            except KafkaError as exc:
                raise ServiceUnavailableError(f"failed to create Kafka topics {missing}: {exc}") from exc
            logger.info("Kafka topics created topics=%s partitions=%d", ",".join(missing), settings.topic_partitions)
        return missing
    finally:
        admin.close()


def run_topics(names: Iterable[str], kafka: KafkaSettings, group_id: str) -> list[str]:
    """Return the names among ``names`` that belong to one run: under its topic prefix, or Faust's topics of its group.

    Raises:
        ValueError: the topic prefix or the group is empty, so every topic would match.
    """
    if not kafka.topic_prefix or not group_id:
        raise ValueError(f"a run needs a topic prefix and a consumer group of its own, got prefix {kafka.topic_prefix!r} and group {group_id!r}")
    return sorted(name for name in names if name.startswith(kafka.topic_prefix) or name.startswith(f"{group_id}-"))


def delete_run_topics(kafka: KafkaSettings, group_id: str) -> list[str]:
    """Delete the Kafka topics of one run (an evaluation part, a demo) and return their names, or [] after logging a failure as a warning.

    Kafka deletes topics asynchronously, so a topic may still be listed for a moment after
    this returns.
    """
    admin = None
    try:
        admin = KafkaAdminClient(
            bootstrap_servers=kafka.bootstrap_servers.split(","), client_id="qianliyan-admin", request_timeout_ms=kafka.request_timeout_ms
        )
        names = run_topics(admin.list_topics(), kafka, group_id)
        if names:
            admin.delete_topics(names)
    except KafkaError as exc:
        logger.warning("could not delete the Kafka topics of group=%s prefix=%s: %r", group_id, kafka.topic_prefix, exc)
        return []
    finally:
        if admin is not None:
            admin.close()
    logger.info("Kafka topics deleted group=%s prefix=%s count=%d", group_id, kafka.topic_prefix, len(names))
    logger.debug("Kafka topics deleted topics=%s", ",".join(names))
    return names
