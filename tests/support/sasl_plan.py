"""The ``clusters:`` block of a live plan whose target is the real Apache Kafka
target's SASL_SSL listener (``--broker apache-kafka``), as the migration user."""

from __future__ import annotations

from kmigrate.adapters import apache_kafka


def sasl_clusters_yaml(source: str, target: str, ca: str, password_var: str) -> str:
    """A plan's ``clusters:`` block (YAML at column 0, ending in a newline): the
    source at bootstrap servers ``source`` (PLAINTEXT), the target at ``target`` over
    SASL_SSL with SCRAM-SHA-512 as :data:`apache_kafka.MIGRATION_USER`, its CA file
    ``ca``, its password the reference ``${password_var}`` (never the value)."""
    return f"""\
clusters:
  source:
    type: kafka
    bootstrap_servers: {source}
  target:
    type: kafka
    bootstrap_servers: {target}
    config:
      security.protocol: SASL_SSL
      sasl.mechanisms: SCRAM-SHA-512
      sasl.username: {apache_kafka.MIGRATION_USER}
      sasl.password: ${{{password_var}}}
      ssl.ca.location: {ca}
"""
