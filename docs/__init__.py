"""The documentation, shipped with the package as ``infratests.docs`` (``infratests.resources.docs_dir()``)."""
