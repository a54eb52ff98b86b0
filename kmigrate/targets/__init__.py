"""Target profiles (what each cluster type holds) and translation rules (pure)."""
