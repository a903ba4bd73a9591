import pytest

pytestmark = pytest.mark.django_db(databases="__all__")


def test_health_is_503_naming_the_cluster_when_no_worker_runs(client):
    response = client.get("/api/health")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "failing"
    assert body["failed"] == ["cluster"]
    assert "no django-q2 cluster is running" in body["checks"]["cluster"]["detail"]
    assert {name for name, check in body["checks"].items() if check["ok"]} == {
        "database",
        "migrations",
        "cache",
        "broker",
        "channel_layer",
        "runner_isolation",
    }


def test_api_docs_are_served_from_local_static_files(client):
    response = client.get("/api/docs")

    assert response.status_code == 200
    page = response.content.decode()
    assert "/static/ninja/" in page
    assert "cdn." not in page
    assert client.get("/api/openapi.json").json()["info"]["title"] == "Atom API"


def test_the_admin_login_page_is_served(client):
    assert client.get("/admin/login/").status_code == 200


def test_health_says_how_runners_are_isolated_and_names_the_fallback_without_cgroups(
    client, settings
):
    import skills.runtime

    isolated = client.get("/api/health").json()["checks"]["runner_isolation"]
    settings.ATOM_RUNNER_CGROUPS = "off"
    skills.runtime.shutdown()
    fallback = client.get("/api/health").json()["checks"]["runner_isolation"]
    skills.runtime.shutdown()

    assert isolated["ok"] is True
    assert "processes per runner through cgroup v" in isolated["detail"]
    assert fallback["ok"] is True
    assert "rlimits only, per process, not per runner with its children" in fallback["detail"]
    assert "at most 8 runners on this host" in fallback["detail"]
