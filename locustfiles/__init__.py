"""The built-in locustfiles, run by Locust in its own process (never imported here: gevent).

Shipped with the package as ``infratests.locustfiles``; ``infratests.resources.locustfiles_dir()`` finds them.
"""
