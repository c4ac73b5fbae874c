"""Logging out ends the session and says so."""

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_logging_out_says_so_on_the_login_page(client, alice):
    client.force_login(alice)

    response = client.post(reverse("accounts:logout"), follow=True)

    assert response.redirect_chain == [(reverse("accounts:login"), 302)]
    assert '<p class="flash info">You are logged out.</p>' in response.content.decode()
    assert not response.context["user"].is_authenticated
    assert client.get(reverse("jobs:list")).status_code == 302  # the session is gone
