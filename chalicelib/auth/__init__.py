"""Passwords, tokens, and the principal every protected route receives."""
