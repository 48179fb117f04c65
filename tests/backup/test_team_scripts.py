"""The backup scenarios judge a team's own scripts, not the suite's: a correct restore script that refuses
a damaged file passes C-BK-3 with ``verify`` at its default; team-named, numbered backups pruned by time
pass C-BK-2."""

from __future__ import annotations

import pytest

from infratests.config import Profile
from infratests.stack.postgres import bindir
from tests.mutants.mutant import run_scenario

BK = "scenarios/test_backup_restore.py::"


def _restore_script() -> str:
    """What a careful team writes: check the file, then restore it in one transaction that stops at the
    first error."""
    tools = bindir(Profile())
    return (f"if gzip -t {{path}} 2>/dev/null; then gunzip -c {{path}} | {tools}/psql --quiet --no-psqlrc "
            f"-v ON_ERROR_STOP=1 --single-transaction {{dsn}}; "
            f"else {tools}/pg_restore --single-transaction --exit-on-error --no-owner --dbname={{dsn}} {{path}}; fi")


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["custom", "plain-gzip"])
def test_a_correct_restore_script_that_refuses_damage_passes(fmt: str) -> None:
    verdict = run_scenario(BK + f"test_damaged_backup_is_refused_before_anything_is_restored[{fmt}]", {},
                           {"INFRATESTS_BACKUP_RESTORE_COMMAND": _restore_script()})
    assert verdict.exit_code == 0, verdict.output[-3000:]


@pytest.mark.slow
def test_numbered_backups_pruned_by_time_pass() -> None:
    tools = bindir(Profile())
    command = ("[ -f {dir}/.counter ] || echo 7 > {dir}/.counter; n=$(( $(cat {dir}/.counter) + 1 )); "
               f"echo $n > {{dir}}/.counter; {tools}/pg_dump --format=custom --file={{dir}}/db-$n.dump "
               "--dbname={dsn}")
    verdict = run_scenario(BK + "test_retention_keeps_exactly_the_newest_n", {}, {
        "INFRATESTS_BACKUP_COMMAND": command, "INFRATESTS_BACKUP_PATTERN": "db-*.dump",
        "INFRATESTS_BACKUP_PRUNE_COMMAND": "ls -1t db-*.dump | tail -n +$(({keep}+1)) | xargs -r rm --"})
    assert verdict.exit_code == 0, verdict.output[-3000:]
