"""A locustfile that fails at import: the runner must say so, with Locust's own log lines."""

from _common import InfratestsUser

raise RuntimeError("broken on purpose")


class BrokenUser(InfratestsUser):
    pass
