"""kmigrate: plan, execute, roll back and verify Kafka migrations."""

__version__ = "0.1.0"
