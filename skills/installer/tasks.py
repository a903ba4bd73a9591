"""django-q2 tasks: thin wrappers taking primary keys; running one twice is harmless (a job
runs only from "queued", and an environment is built only by the request that claims it)."""

from skills.installer.jobs import install_batch_run, install_job_run, install_jobs_reap


def install_environment_task(job_pk: int) -> str:
    """Build (or find) the environment of one install job."""
    return install_job_run(job_pk=job_pk).status


def install_batch_task(job_pks: list[int]) -> list[str]:
    """Build the environments of a batch's jobs in parallel (MAX_CONCURRENT_INSTALLATIONS)."""
    return [job.status for job in install_batch_run(job_pks=job_pks)]


def install_jobs_reap_task() -> dict[str, list[int]]:
    """The reaper (a schedule, every minute): queues again the jobs whose worker died."""
    return install_jobs_reap().as_dict()
