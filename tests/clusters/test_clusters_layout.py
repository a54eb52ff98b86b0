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
