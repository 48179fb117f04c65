"""The claims report (``infratests-report/``): every claim of ``docs/claims.md`` with its verdict in
this run, the scenarios behind it and their evidence (history, fault windows and seed, timeline,
service logs). What a team attaches to its hardening report."""
