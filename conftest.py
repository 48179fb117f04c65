"""Root conftest: the infratests plugin itself is loaded through its pytest11 entry point.

Locustfiles import locust, which monkey-patches the whole process with gevent:
they must never be collected or imported here.
"""

collect_ignore = ["locustfiles"]
