"""Read the policy's actions from the ``actions`` topic for the controller."""

from __future__ import annotations

import logging
import uuid
import time
from typing import Any

from kafka import KafkaConsumer
from kafka.errors import KafkaError
from pydantic import ValidationError

from emulators.messages import ACTIONS
from pipeline.errors import ServiceUnavailableError
from pipeline.policy.models import ActionRequest
from pipeline.settings import KafkaSettings

logger = logging.getLogger(__name__)

MAX_ACTIONS_PER_POLL = 500
ASSIGNMENT_TIMEOUT_SECONDS = 30.0
# kafka-python finishes joining a consumer group only inside polls that block for a while.
JOIN_POLL_MS = 500


class KafkaActionSource:
    """Poll ``actions`` without blocking and return the valid requests; invalid ones are counted and logged.

    A new consumer group starts at the newest offset, so actions issued before the
    emulator started are not applied, unless ``from_beginning`` is set. Offsets are
    committed automatically.
    """

    def __init__(self, settings: KafkaSettings, group_id: str | None = None, from_beginning: bool = False) -> None:
        # Each controller run gets a consumer group of its own by default: runs that shared
        # one group rebalanced each other and took tens of seconds to see their actions.
        group_id = group_id or f"qianliyan-controller-{settings.topic_prefix or 'default'}-{uuid.uuid4().hex[:8]}"
        self.topic = settings.topic(ACTIONS)
        try:
            self.consumer = KafkaConsumer(
                self.topic,
                bootstrap_servers=settings.bootstrap_servers.split(","),
                client_id="qianliyan-controller",
                group_id=group_id,
                auto_offset_reset="earliest" if from_beginning else "latest",
                enable_auto_commit=True,
                request_timeout_ms=max(settings.request_timeout_ms, 31_000),
            )
        except KafkaError as exc:
            raise ServiceUnavailableError(
                f"no Kafka broker responded at {settings.bootstrap_servers} for the controller; start one with "
                "'scripts/services.sh up' or set QIANLIYAN_KAFKA__BOOTSTRAP_SERVERS"
            ) from exc
        self.invalid = 0
        self.pending: list[ActionRequest] = []
        self._wait_for_assignment()

    def _wait_for_assignment(self) -> None:
        """Block until the group assigns partitions, keeping what arrives meanwhile.

        Raises:
            ServiceUnavailableError: no partition was assigned within the timeout.
        """
        deadline = time.monotonic() + ASSIGNMENT_TIMEOUT_SECONDS
        while not self.consumer.assignment():
            if time.monotonic() > deadline:
                self.consumer.close()
                raise ServiceUnavailableError(
                    f"the controller's consumer got no partition of {self.topic} within {ASSIGNMENT_TIMEOUT_SECONDS:.0f} s; "
                    "check that the topic exists and the broker is healthy"
                )
            self.pending += self._decode(self.consumer.poll(timeout_ms=JOIN_POLL_MS, max_records=MAX_ACTIONS_PER_POLL))
        logger.info("controller consumer assigned topic=%s partitions=%d", self.topic, len(self.consumer.assignment()))

    def poll(self) -> list[ActionRequest]:
        """Return the actions that arrived since the last call, in offset order per partition."""
        requests, self.pending = self.pending, []
        return requests + self._decode(self.consumer.poll(timeout_ms=0, max_records=MAX_ACTIONS_PER_POLL))

    def _decode(self, batches: dict[Any, list[Any]]) -> list[ActionRequest]:
        requests = []
        for partition, messages in batches.items():
            for message in messages:
                try:
                    requests.append(ActionRequest.model_validate_json(message.value))
                except ValidationError as exc:
                    self.invalid += 1
                    logger.warning(
                        "invalid action skipped topic=%s partition=%d offset=%d invalid_total=%d error=%s",
                        partition.topic, partition.partition, message.offset, self.invalid, exc.errors()[0]["msg"],
                    )
        return requests

    def close(self) -> None:
        """Close the consumer and commit its offsets."""
        self.consumer.close()
        logger.info("controller consumer closed topic=%s invalid_actions=%d", self.topic, self.invalid)
