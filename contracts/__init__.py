"""Messages, API models and enums shared by every hpo service. Imports nothing of services."""
