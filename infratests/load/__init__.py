"""What users do: Locust (always in a subprocess) as the load engine, histories, capacity search.

Nothing in this package imports locust: gevent would monkey-patch the
pytest process. Locustfiles live in ``locustfiles/`` at the repository root.
"""

from infratests.load.history import completion_type, load_history
from infratests.load.result import LoadResult
from infratests.load.runner import LoadSpec, LocustRun, run_load
from infratests.load.stats import EndpointStats

__all__ = [
           "EndpointStats",
           "LoadResult",
           "LoadSpec",
           "LocustRun",
           "completion_type",
           "load_history",
           "run_load",
]
