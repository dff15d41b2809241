from django.apps import AppConfig


class AgentsConfig(AppConfig):
    name = "agents"
    verbose_name = "Agents and people"

    def ready(self) -> None:
        from agents import schema  # noqa: F401  (registers the OpenAPI extension)
