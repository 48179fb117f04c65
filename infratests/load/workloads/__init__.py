"""Workload clients that record exact histories (Jepsen clients): bank transfers, set adds.

Each workload is a context manager running worker threads that record every
operation through a :class:`~infratests.history.Recorder`: ``ok`` when
it certainly happened, ``fail`` when it certainly did not (e.g. HTTP 409) and
``info`` for anything indeterminate (timeouts, resets, 5xx).
"""

from infratests.load.workloads.bank import BankSpec, BankWorkload, SqlBankWorkload
from infratests.load.workloads.sets import PgSetWorkload, RedisSetWorkload, pg_set_read, redis_set_read

__all__ = ["BankSpec", "BankWorkload", "PgSetWorkload", "RedisSetWorkload", "SqlBankWorkload", "pg_set_read",
           "redis_set_read"]
