"""Business rules. No chalice, boto3 or pynamodb imports here: only repositories via the store."""
