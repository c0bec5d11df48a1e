"""What tests and benchmarks share to start the real parts of their own: a private PostgreSQL
cluster they can restart, and the like. Nothing here is imported by the product."""
