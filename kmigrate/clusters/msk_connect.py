"""AWS MSK Connect: create the MirrorMaker 2 connectors (boto3 ``kafkaconnect``).

boto3 (the ``aws`` extra) is imported only here, lazily.  The requests come from
:func:`kmigrate.engines.mirrormaker2.config.msk_connect_request`; their shape is the
``CreateConnector`` operation of the botocore ``kafkaconnect`` service model
(docs.aws.amazon.com/MSKC/latest/mskc/API_CreateConnector.html), which botocore
checks before anything is sent.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kmigrate.clusters._optional import require
from kmigrate.errors import ClusterError, UsageError

_EXTRA_MSG = "MirrorMaker 2 on MSK Connect"


def kafkaconnect_client(region: str) -> Any:
    """A boto3 ``kafkaconnect`` client for ``region`` (credentials from the usual chain).

    Raises:
        UsageError: boto3 is not installed (``pip install 'kmigrate[aws]'``).
    """
    boto3 = require("boto3", "aws", _EXTRA_MSG)
    return boto3.client("kafkaconnect", region_name=region)


def create_connectors(
    requests: Sequence[dict[str, Any]], region: str, client: Any = None
) -> list[str]:
    """Create each connector; returns their ARNs, in order.

    Args:
        requests: ``create_connector`` keyword arguments, one per connector.
        client: a boto3 ``kafkaconnect`` client (tests pass one under botocore's
            Stubber); by default one for ``region``.

    Raises:
        UsageError: boto3 missing, or a request the service model refuses
            (botocore's parameter validation, before any call).
        ClusterError: the service refused a connector (its error code and message).
    """
    client = client or kafkaconnect_client(region)
    exc = require("botocore.exceptions", "aws", _EXTRA_MSG)
    arns = []
    for request in requests:
        name = request.get("connectorName", "?")
        try:
            answer = client.create_connector(**request)
        except exc.ParamValidationError as err:
            raise UsageError(f"MSK Connect connector {name}: invalid request: {err}") from None
        except exc.ClientError as err:
            error = err.response.get("Error", {})
            raise ClusterError(
                f"MSK Connect create_connector {name} failed: "
                f"{error.get('Code', 'error')}: {error.get('Message', '')}".rstrip()
            ) from None
        except exc.BotoCoreError as err:
            raise ClusterError(f"MSK Connect create_connector {name} failed: {err}") from None
        arns.append(str(answer["connectorArn"]))
    return arns
