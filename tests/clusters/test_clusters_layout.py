"""Cloud SDKs stay optional: importing the target and cluster modules loads none of them."""

from __future__ import annotations

import subprocess
import sys


def test_cloud_sdks_are_imported_lazily() -> None:
    """kmigrate.targets and kmigrate.clusters import no boto3, botocore, azure or signer
    module (nor confluent_kafka, which stays in adapters/) until a cloud call needs it."""
    code = (
        "import sys\n"
        "import kmigrate.targets.rules, kmigrate.targets.profiles, kmigrate.targets.translate\n"
        "import kmigrate.clusters.registry\n"
        "import kmigrate.clusters.msk, kmigrate.clusters.eventhubs\n"
        "import kmigrate.clusters.confluent_cloud\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('boto3', 'botocore', 'azure', 'aws_msk_iam_sasl_signer', 'confluent_kafka'))\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == ""


def test_every_plan_type_is_one_registered_module() -> None:
    """The plan schema's cluster types are exactly the registry's, each a module holding
    its own ``TYPE`` (plan keys, profiles) and ``open_cluster``; every plan key a type
    takes is a key of the plan schema."""
    from typing import get_args

    from kmigrate.clusters import registry
    from kmigrate.plan.schema import ClusterSpec, ClusterType

    assert set(get_args(ClusterType)) == set(registry.MODULES)
    for name in registry.MODULES:
        module = registry.module(name)
        assert module.TYPE.name == name
        assert callable(module.open_cluster)
        assert module.TYPE.profiles, name
        for key in (*module.TYPE.required, *module.TYPE.optional):
            assert key in registry.FIELD_KEYS and key in ClusterSpec.model_fields, (name, key)


def test_shared_rules_name_no_cluster_type() -> None:
    """The shared translation code decides about a target by data on its profile: no
    ``profile.family`` and no comparison of a profile with a vendor's name (how a
    *source* reports configs, Kafka or Redpanda, is source knowledge and stays)."""
    import ast
    from pathlib import Path

    import kmigrate.targets

    vendors = ("msk", "eventhubs", "confluent", "redpanda")
    for path in Path(kmigrate.targets.__file__).parent.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute):
                assert node.attr != "family", f"{path.name}:{node.lineno}"
            if isinstance(node, ast.Compare):
                text = ast.unparse(node)
                named = "profile" in text and any(f"'{v}" in text for v in vendors)
                assert not named, f"{path.name}: {text}"
