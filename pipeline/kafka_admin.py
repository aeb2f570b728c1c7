"""Create the pipeline's Kafka topics before producers or consumers use them."""

from __future__ import annotations

import logging
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


def ensure_topics(settings: KafkaSettings, names: Iterable[str] | None = None) -> list[str]:
    """Create the topics that do not exist yet and return the names that were created.

    Raises:
        ServiceUnavailableError: no broker responded at ``settings.bootstrap_servers``.
    """
    requested = list(names) if names is not None else all_topic_names(settings)
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
