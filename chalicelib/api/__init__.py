"""HTTP layer: one blueprint per resource, built on the route decorator in ``framework``."""
