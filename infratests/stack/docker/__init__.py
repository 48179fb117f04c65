"""The container backend: every service of the stack in a Docker container, via testcontainers.

``backend`` (the :class:`DockerService`), ``plan`` (which image runs a spec and
how), ``images`` (local images from Debian packages, ``infratests images
build``), ``choose`` (``docker``/``auto`` selection, Ryuk) and ``reaper`` (the
janitor's hook). Importing this package imports nothing heavy.
"""
