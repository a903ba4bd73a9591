"""PostgreSQL restarted under a running stack (PostgreSQL leg only). The test starts its own
server (initdb + pg_ctl as the postgres OS user, on a free port, in a temporary directory) and
runs `manage.py up` against it: the machine's shared server is never touched. Workflow runs in
flight when the server restarts, and runs started after, all end; requests after the restart
are answered; health is green again."""

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

import httpx
import pytest
from django.db import connection

from atom_site.loadtest import free_port, stack_environment
from atom_site.loadtest.stack import (
    api_key_create,
    environments_warm,
    stack_start,
    workflow_runs_unfinished,
)
from tests.faults import needs

pytestmark = [
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the PostgreSQL leg's fault"),
    pytest.mark.timeout(900),
]

FINISHED = ("succeeded", "failed", "cancelled", "timed_out")


def postgres_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return Path(found[-1]).parent if found else None


class PrivatePostgres:
    def __init__(self, root: Path, port: int) -> None:
        self.bin = postgres_bin()
        self.data = root / "pgdata"
        self.port = port
        self.log = root / "postgres.log"

    def _as_postgres(self, *args: str) -> subprocess.CompletedProcess:
        command = [str(self.bin / args[0]), *args[1:]]
        if os.geteuid() == 0:  # initdb refuses root
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(command, capture_output=True, text=True, timeout=120)

    def init(self) -> None:
        self.data.parent.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")
            os.chown(self.data.parent, user.pw_uid, user.pw_gid)
        done = self._as_postgres("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres")
        assert done.returncode == 0, done.stderr

    def pg_ctl(self, action: str) -> None:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.data.parent}"
        done = self._as_postgres(
            "pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-m", "fast",
            "-w", action,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr + done.stdout

    def url(self, database: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"


@pytest.fixture
def private_postgres():
    needs(postgres_bin() is not None, "no PostgreSQL server programs in /usr/lib/postgresql")
    needs(
        os.geteuid() != 0 or shutil.which("runuser") is not None,
        "as root, initdb needs runuser to run as postgres",
    )
    # Not under pytest's base directory, which only root may enter.
    root = Path(tempfile.mkdtemp(prefix="atom-pg-"))
    server = PrivatePostgres(root, free_port())
    server.init()
    server.pg_ctl("start")
    created = subprocess.run(
        [str(server.bin / "createdb"), "-h", "127.0.0.1", "-p", str(server.port), "-U",
         "postgres", "atom_restart"],
        capture_output=True,
        text=True,
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    yield server
    server.pg_ctl("stop")
    shutil.rmtree(root, ignore_errors=True)


def runs_start(client: httpx.Client, count: int, tag: str) -> list[int]:
    ids = []
    for index in range(count):
        answer = client.post(
            "/api/workflows/name-to-identifiers/runs", json={"inputs": {"name": f"{tag} {index}"}}
        )
        assert answer.status_code in (200, 202), answer.text
        ids.append(answer.json()["id"])
    return ids


def test_runs_in_flight_across_a_postgres_restart_all_end_and_requests_recover(
    private_postgres, process_env, tmp_path
):
    env = stack_environment(
        base={
            **process_env,
            "DATABASE_URL": private_postgres.url("atom_restart"),
            "ATOM_DATA_DIR": str(tmp_path / "data"),
            "ATOM_STEP_HEARTBEAT_SECONDS": "0.3",
            "ATOM_STEP_STALE_SECONDS": "3",
            # A step whose enqueue was lost in the restart is queued again after this.
            "ATOM_STEP_REQUEUE_SECONDS": "5",
        },
        workers=2,
    )
    stack = stack_start(port=free_port(), env=env, log=tmp_path / "stack.log")
    try:
        token = api_key_create(env=env, username="admin")
        environments_warm(base_url=stack.base_url, token=token)
        client = httpx.Client(
            base_url=stack.base_url, headers={"Authorization": f"Bearer {token}"}, timeout=60
        )
        before = runs_start(client, 10, "before")

        private_postgres.pg_ctl("restart")
        searches = [client.get("/api/marketplace/skills?q=text").status_code for _ in range(20)]
        after = runs_start(client, 10, "after")
        statuses = workflow_runs_unfinished(
            base_url=stack.base_url, token=token, run_ids=before + after, timeout=240
        )
        health = client.get("/api/health")
        details = [client.get(f"/api/workflow-runs/{run_id}").json() for run_id in before + after]
        unfinished = [run for run in details if run["status"] not in FINISHED]
    finally:
        stack.stop()

    assert searches == [200] * 20
    assert unfinished == []
    assert health.status_code == 200, health.text
    # Started after the restart: every one succeeds.
    assert {run["status"] for run in details[10:]} == {"succeeded"}
    # In flight during it: each succeeds, or fails clearly with the step whose worker lost the
    # database reclaimed as lost (the demo workflow's steps have no retries left for it).
    for run in details[:10]:
        steps = {step["step_id"]: step for step in run["steps"]}
        if run["status"] == "succeeded":
            assert {step["status"] for step in steps.values()} <= {"succeeded", "skipped"}
            continue
        assert run["status"] == "failed"
        assert run["error_type"] == "StepFailed"
        lost = [step for step in steps.values() if step["status"] == "failed"]
        assert [step["error_type"] for step in lost] == ["WorkerLost"], run
        assert "stopped answering" in lost[0]["error_message"]
    assert statuses.get("succeeded", 0) >= 10
