"""pydantic schemas: requests, responses and messages. The OpenAPI document is built from them."""
