"""The qianliyan exception hierarchy."""


class QianliyanError(Exception):
    """Base class of every error that qianliyan raises on purpose."""


class InvalidMessageError(QianliyanError, ValueError):
    """A Kafka message that cannot be decoded or does not match its schema.

    ``reason`` is the short, single-line text that goes into the dead-letter headers.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ServiceUnavailableError(QianliyanError, ConnectionError):
    """Kafka or InfluxDB did not respond within the configured timeout."""
