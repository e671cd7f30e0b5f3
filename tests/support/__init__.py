"""Helpers the tests share (no tests here): the emulated AWS world, the HTTP client, fast
builders of tenants, people and data, and Lambda-shaped events."""
