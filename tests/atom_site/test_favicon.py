"""Browsers ask for /favicon.ico on every page: it answers, and nothing is logged."""

import logging

import pytest

pytestmark = pytest.mark.django_db


def test_the_favicon_is_served_without_a_warning(client, caplog):
    with caplog.at_level(logging.WARNING, logger="django.request"):
        response = client.get("/favicon.ico")

    assert response.status_code == 200
    assert response["Content-Type"] == "image/svg+xml"
    assert response.content.startswith(b"<svg")
    assert "max-age=86400" in response["Cache-Control"]
    assert caplog.records == []
