"""tutorbook: a multi-tenant tutoring platform backend (Chalice on AWS Lambda)."""
