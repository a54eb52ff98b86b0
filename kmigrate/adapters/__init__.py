"""All cluster access.  Steps talk to clusters only through these adapters."""
