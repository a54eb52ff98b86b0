"""Dry run as an adapter: clusters that read for real and describe each write.

``kmigrate execute --dry-run`` (and ``rollback --dry-run``, ``mirror|provision|
translate-offsets --dry-run``) go through the same step code as a real run;
the runner hands the steps these wrappers instead of the real data plane
(:class:`DryRunCluster`) and control plane (:class:`DryRunPlane`).  Every read
goes to the wrapped cluster; every write is refused to the wire: it is
not made, and reported with the status :data:`DESCRIBED` where the real write
reports one, so the step's own line says ``would ...`` (the same lines as
before the wrappers), and a step that misses a dry-run case still changes
nothing on a cluster.  The steps' local side effects (shell commands, the
operator's confirmation, files, refusals) are described by
:class:`kmigrate.runtime.dry_run.DryRunEffects` the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from kmigrate.clusters.port import DESCRIBED, Cluster, ControlPlane, CreateOutcome
from kmigrate.errors import RefusedError

if TYPE_CHECKING:
    from kmigrate.adapters.kafka import RecordWriter
    from kmigrate.targets.model import TopicTranslation

T = TypeVar("T")


class _Wrapper(Generic[T]):
    """Every attribute not defined on the wrapper is the wrapped object's."""

    def __init__(self, inner: T) -> None:
        self._inner = inner

    @property
    def inner(self) -> T:
        """The wrapped cluster or control plane."""
        return self._inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class DryRunCluster(_Wrapper[Cluster]):
    """A :class:`~kmigrate.clusters.port.Cluster` whose reads go to the wrapped
    cluster (its reads, ``label``, ``bootstrap_servers`` ...) and whose writes
    are not made (module docstring)."""

    def alter_group_offsets(self, group: str, offsets: Mapping[tuple[str, int], int]) -> None:
        """Nothing is altered (the step's line says what would be)."""

    def delete_group(self, group: str) -> str:
        """Nothing is deleted: returns :data:`DESCRIBED`."""
        return DESCRIBED

    def create_topics(
        self,
        topics: Iterable[tuple[str, int, int, Mapping[str, str]]],
        *,
        validate_only: bool = False,
    ) -> list[CreateOutcome]:
        """Nothing is created: one :data:`DESCRIBED` outcome per topic."""
        return [CreateOutcome(name, DESCRIBED) for name, *_ in topics]

    def delete_topic(self, name: str) -> str:
        """Nothing is deleted: returns :data:`DESCRIBED`."""
        return DESCRIBED

    def prepare_writer(self) -> None:
        """Nothing to prepare: a dry run writes no records."""

    def writer(
        self, on_error: Callable[[str], None], partitions: Iterable[tuple[str, int]] = ()
    ) -> RecordWriter:
        """A dry run writes no records.

        Raises:
            RefusedError: always (a step reached a record write in a dry run).
        """
        raise RefusedError(f"{self._inner.label}: a dry run writes no records")


class DryRunPlane(_Wrapper[ControlPlane]):
    """A :class:`~kmigrate.clusters.port.ControlPlane` whose reads (profile,
    preflight, existing topics, cross-check) go to the wrapped plane and whose
    creations and deletions are described (:data:`DESCRIBED`) and not made."""

    def provision(
        self, cluster: Cluster, translations: list[TopicTranslation]
    ) -> list[CreateOutcome]:
        """Nothing is created: one :data:`DESCRIBED` outcome per topic."""
        return [CreateOutcome(t.name, DESCRIBED) for t in translations]

    def remove(self, cluster: Cluster, name: str) -> str:
        """Nothing is deleted: returns :data:`DESCRIBED`."""
        return DESCRIBED


__all__ = ["DESCRIBED", "DryRunCluster", "DryRunPlane"]
