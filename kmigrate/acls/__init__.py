"""ACLs and permissions: what a source allows or denies, and what it becomes on a target.

* :mod:`kmigrate.acls.model` -- the neutral binding value type and its snapshot shape;
* :mod:`kmigrate.acls.principals` -- the plan's principal map (``acls.principals``, ``acls.drop``);
* :mod:`kmigrate.acls.decisions` -- per-binding decisions with the rule and its source;
* :mod:`kmigrate.acls.kafka_target` -- Kafka-ACL targets (bindings as they are);
* :mod:`kmigrate.acls.msk_iam` -- MSK with IAM (IAM policy documents);
* :mod:`kmigrate.acls.eventhubs` -- Event Hubs (Azure role assignments);
* :mod:`kmigrate.acls.outputs` -- the output files for the operator's IaC.

Pure: no cluster access and no vendor SDK (the adapters are
:mod:`kmigrate.adapters.kafka_acls` and :mod:`kmigrate.clusters.eventhubs_rbac`).
"""
