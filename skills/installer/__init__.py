"""Installs: content-addressed skill environments built once per key (docs/installs.md).

Public entry points live in `skills.installer.builder` (environment_ensure,
environment_for_skill_version), `skills.installer.jobs` (install_request, install_job_run,
install_batch_run) and `skills.installer.resolution` (dependencies_resolve). Builds take a
cluster-wide slot from `skills.installer.slots` (MAX_CONCURRENT_INSTALLATIONS).
"""
