"""Two signups with one email at the same moment: the database lets one in.

The form's "already exists" check reads before anything is written, so two requests can
both pass it; only the unique index on lower(email) stands between them and two
accounts (accounts/migrations/0002).
"""

import threading

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import connections
from django.test import Client

from accounts.forms import SignupForm
from accounts.services import EMAIL_TAKEN, user_signup

PASSWORD = "a long enough passphrase"


def signup_data(username, email):
    return {"username": username, "email": email, "password1": PASSWORD, "password2": PASSWORD}


@pytest.mark.django_db
def test_the_database_refuses_a_second_account_for_one_email_in_another_case():
    user_signup(username="dana", email="dana@example.com", password=PASSWORD)

    with pytest.raises(ValidationError) as refused:
        user_signup(username="dan", email="Dana@Example.com", password=PASSWORD)

    assert refused.value.message_dict == {"email": [EMAIL_TAKEN]}
    assert get_user_model().objects.count() == 1


@pytest.mark.django_db
def test_a_username_taken_a_moment_ago_is_a_form_error_not_a_server_error():
    user_signup(username="dana", email="dana@example.com", password=PASSWORD)

    with pytest.raises(ValidationError) as refused:
        user_signup(username="dana", email="other@example.com", password=PASSWORD)

    assert list(refused.value.message_dict) == ["username"]


@pytest.mark.django_db
def test_accounts_without_an_email_do_not_collide():
    User = get_user_model()
    User.objects.create_user("first", email="")
    User.objects.create_user("second", email="")

    assert User.objects.filter(email="").count() == 2


@pytest.mark.django_db(transaction=True)
def test_two_signups_at_the_same_moment_make_one_account_and_one_clear_error(monkeypatch):
    # Hold each request just after the form found no account with its email, until the
    # other has found none too: then both go on to write, in their own transactions.
    both_checked = threading.Barrier(2, timeout=20)
    check_email = SignupForm.clean_email

    def check_then_wait(form):
        email = check_email(form)
        both_checked.wait()
        return email

    monkeypatch.setattr(SignupForm, "clean_email", check_then_wait)
    responses = []

    def sign_up(username, email):
        try:
            responses.append(Client().post("/accounts/signup/", signup_data(username, email)))
        finally:
            connections.close_all()  # this thread's own connection

    threads = [
        threading.Thread(target=sign_up, args=("dana", "dana@example.com")),
        threading.Thread(target=sign_up, args=("dan", "DANA@example.com")),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(response.status_code for response in responses) == [200, 302]
    refused = next(response for response in responses if response.status_code == 200)
    assert EMAIL_TAKEN in refused.content.decode()
    assert get_user_model().objects.filter(email__iexact="dana@example.com").count() == 1
