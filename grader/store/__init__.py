"""Persistence: Redis (records, indexes, tokens) and the blob directory (uploaded zips by sha256)."""
