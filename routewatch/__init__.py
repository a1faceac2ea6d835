"""routewatch: routing fairness and cost observability for LLM routers."""

__version__ = "0.1.0"
