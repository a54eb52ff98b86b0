"""Kafka's jars from Maven Central (or ``$KAFKA_HOME/libs``), and running one of
Kafka's tools from them.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path

from kmigrate.adapters.apache_kafka.settings import LOG4J2_VERSION
from kmigrate.errors import ClusterError, UsageError


def cache_root() -> Path:
    """Where fetched jars are kept: ``$KMIGRATE_CACHE/kafka`` or ``~/.cache/kmigrate/kafka``."""
    base = os.environ.get("KMIGRATE_CACHE")
    return (Path(base) if base else Path.home() / ".cache" / "kmigrate") / "kafka"


def _kafka_deps(version: str) -> list[tuple[str, str, str]]:
    """Kafka ``version``'s broker artifact and the logging binding its line uses."""
    deps = [("org.apache.kafka", "kafka_2.13", version)]
    if version.startswith("3."):
        # 3.9 logs through reload4j (the log4j 1 API).
        deps.append(("org.slf4j", "slf4j-reload4j", "1.7.36"))
    else:
        deps += [
            ("org.apache.logging.log4j", "log4j-core", LOG4J2_VERSION),
            ("org.apache.logging.log4j", "log4j-slf4j-impl", LOG4J2_VERSION),
        ]
    return deps


def _pom(name: str, version: str, deps: Sequence[tuple[str, str, str]]) -> str:
    body = "".join(
        f"<dependency><groupId>{g}</groupId><artifactId>{a}</artifactId>"
        f"<version>{v}</version></dependency>"
        for g, a, v in deps
    )
    return (
        '<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>'
        f"<groupId>kmigrate.sandbox</groupId><artifactId>{name}</artifactId>"
        f"<version>{version}</version><packaging>pom</packaging>"
        f"<dependencies>{body}</dependencies></project>\n"
    )


def _require(tool: str, what: str) -> str:
    path = shutil.which(tool)
    if path is None:
        raise UsageError(
            f"the Apache Kafka sandbox needs '{tool}' on PATH ({what}); install it "
            "(Debian: apt-get install openjdk-17-jre-headless maven) or use the default "
            "broker (--broker tansu)"
        )
    return path


def kafka_libs(version: str, *, say: Callable[[str], None] = lambda _m: None) -> Path:
    """The folder of jars that runs Kafka ``version``, fetched with Maven on first use.

    ``$KAFKA_HOME/libs`` is used as it is when it holds ``kafka_2.13-VERSION.jar``.
    Otherwise the jars come from Maven Central into
    ``cache_root()/VERSION/libs`` (about 45 MB, 10-20 s; :func:`maven_libs`).

    Raises:
        UsageError: ``java`` or ``mvn`` is missing.
        ClusterError: Maven failed (its last lines are in the message).
    """
    home = os.environ.get("KAFKA_HOME")
    if home and (Path(home) / "libs" / f"kafka_2.13-{version}.jar").is_file():
        return Path(home) / "libs"
    return maven_libs(
        version, _kafka_deps(version), f"kafka_2.13-{version}.jar", f"Apache Kafka {version}", say
    )


def maven_libs(
    name: str,
    deps: Sequence[tuple[str, str, str]],
    marker: str,
    what: str,
    say: Callable[[str], None] = lambda _m: None,
) -> Path:
    """``cache_root()/name/libs``: the jars of ``deps`` (groupId, artifactId, version)
    and their runtime dependencies, fetched with Maven on first use.

    ``marker`` is a jar file name whose presence means the folder is complete.  The
    jars are written to a temporary folder first, so an interrupted fetch leaves no
    half-filled cache.  ``what`` names the set in messages.

    Raises:
        UsageError: ``java`` or ``mvn`` is missing.
        ClusterError: Maven failed (its last lines are in the message).
    """
    _require("java", "Java 17 runs Kafka")
    libs = cache_root() / name / "libs"
    if (libs / marker).is_file():
        return libs
    mvn = _require("mvn", "Maven fetches Kafka's jars from Maven Central")
    work = cache_root() / name / f"fetch-{uuid.uuid4().hex[:8]}"
    work.mkdir(parents=True, exist_ok=True)
    try:
        (work / "pom.xml").write_text(_pom(f"{name.replace('.', '-')}-runtime", "0", deps))
        say(f"fetching {what} jars with Maven into {libs.parent} ...")
        proc = subprocess.run(
            [
                mvn,
                "-q",
                "-B",
                "-f",
                str(work / "pom.xml"),
                "dependency:copy-dependencies",
                f"-DoutputDirectory={work / 'libs'}",
                "-DincludeScope=runtime",
            ],
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            check=False,
        )
        if proc.returncode != 0:
            tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-8:])
            raise ClusterError(f"fetching {what} with Maven failed:\n{tail}")
        with contextlib.suppress(FileExistsError, OSError):
            os.replace(work / "libs", libs)
        if not (libs / marker).is_file():
            raise ClusterError(f"Maven did not bring {marker} into {libs}")
        return libs
    finally:
        shutil.rmtree(work, ignore_errors=True)


def java_out(libs: str, main_class: str, *args: str) -> str:
    """Run a Kafka tool's main class; its standard output.

    Raises:
        ClusterError: it exited non-zero (its output, passwords masked, in the message).
    """
    proc = subprocess.run(
        [shutil.which("java") or "java", "-Xmx256m", "-cp", f"{libs}/*", main_class, *args],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    if proc.returncode != 0:
        text = re.sub(r"password=[^\]]*", "password=(secret not shown)", proc.stdout + proc.stderr)
        raise ClusterError(f"{main_class} {args[0]} failed: {text.strip()[-2000:]}")
    return proc.stdout
