"""What the views, API, tasks and commands call: registration, certificates, tests and syncs."""
