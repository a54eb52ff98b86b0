"""Per-cluster-type modules: client settings and auth, discovery, control planes.

Each cloud SDK (boto3 and the MSK IAM signer, azure-*) is imported only inside
its module here, lazily, so kmigrate runs without the extras it does not use.
"""
