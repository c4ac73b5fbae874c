import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, staff):
    staff.is_superuser = True
    staff.save()
    client.force_login(staff)
    return client


def change_email(admin_client, user, email):
    data = {
        "username": user.username,
        "email": email,
        "is_active": "on",
        "date_joined_0": "2026-01-01",
        "date_joined_1": "09:00:00",
    }
    return admin_client.post(reverse("admin:auth_user_change", args=[user.pk]), data)


def test_staff_changing_an_email_to_another_accounts_in_any_case_get_a_form_error(
    admin_client, alice, bob
):
    response = change_email(admin_client, bob, "ALICE@example.com")

    assert response.status_code == 200
    assert "An account with this email already exists." in response.content.decode()
    bob.refresh_from_db()
    assert bob.email == "bob@example.com"


def test_staff_can_still_change_an_email_to_a_free_one(admin_client, bob):
    response = change_email(admin_client, bob, "Robert@example.com")

    assert response.status_code == 302
    bob.refresh_from_db()
    assert bob.email == "Robert@example.com"
