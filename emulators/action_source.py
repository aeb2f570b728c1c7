"""Read the policy's actions from the ``actions`` topic for the controller."""

from __future__ import annotations

import logging

from kafka import KafkaConsumer
from kafka.errors import KafkaError
from pydantic import ValidationError

from emulators.messages import ACTIONS
from pipeline.errors import ServiceUnavailableError
from pipeline.policy.models import ActionRequest
from pipeline.settings import KafkaSettings

logger = logging.getLogger(__name__)

MAX_ACTIONS_PER_POLL = 500


class KafkaActionSource:
    """Poll ``actions`` without blocking and return the valid requests; invalid ones are counted and logged.

    The consumer starts at the newest offset, so actions issued before the emulator
    started are not applied. Offsets are committed automatically.
    """

    def __init__(self, settings: KafkaSettings, group_id: str = "qianliyan-controller") -> None:
        self.topic = settings.topic(ACTIONS)
        try:
            self.consumer = KafkaConsumer(
                self.topic,
                bootstrap_servers=settings.bootstrap_servers.split(","),
                client_id="qianliyan-controller",
                group_id=group_id,
                auto_offset_reset="latest",
                enable_auto_commit=True,
                request_timeout_ms=max(settings.request_timeout_ms, 31_000),
            )
        except KafkaError as exc:
            raise ServiceUnavailableError(
                f"no Kafka broker answered at {settings.bootstrap_servers} for the controller; start one with "
                "'scripts/services.sh up' or set QIANLIYAN_KAFKA__BOOTSTRAP_SERVERS"
            ) from exc
        self.invalid = 0

    def poll(self) -> list[ActionRequest]:
        """Return the actions that arrived since the last call, in offset order per partition."""
        requests = []
        batches = self.consumer.poll(timeout_ms=0, max_records=MAX_ACTIONS_PER_POLL)
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
