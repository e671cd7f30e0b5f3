"""The data layer: PynamoDB items, every key format (``keys.py``) and tenant-scoped repositories."""
