import math

from django.conf import settings
from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from accounts.forms import ProfileForm, QueuedPasswordResetForm, SignupForm
from accounts.limits import login_wait, password_reset_wait, signup_wait, wait_in_words
from accounts.models import Profile
from accounts.selectors import account_deletion_pending
from accounts.services import (
    account_deletion_cancel,
    account_deletion_schedule,
    digest_run_now,
    profile_update,
    user_signup,
)


@require_http_methods(["GET", "HEAD", "POST"])
def signup(request):
    if request.method == "POST" and (wait := signup_wait(request, request.POST.get("email", ""))):
        form = SignupForm(initial=_typed(request, "username", "email"))
        return too_many_attempts(request, "accounts/signup.html", {"form": form}, "sign up", wait)
    form = SignupForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            user, welcome = user_signup(
                username=form.cleaned_data["username"],
                email=form.cleaned_data["email"],
                password=form.cleaned_data["password1"],
            )
        except ValidationError as taken:  # someone signed up with it a moment ago
            form.add_error(None, taken)
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            return redirect("jobs:detail", job_id=welcome.id)
    return render(request, "accounts/signup.html", {"form": form})


class LoginView(auth_views.LoginView):
    """Django's login, counted per IP and per account before the password is checked."""

    template_name = "accounts/login.html"
    http_method_names = ["get", "post", "head", "options"]  # Django's also takes PUT

    def post(self, request, *args, **kwargs):
        if wait := login_wait(request, request.POST.get("username", "")):
            form = self.get_form_class()(request, initial=_typed(request, "username"))
            context = self.get_context_data(form=form)
            return too_many_attempts(request, self.template_name, context, "log in", wait)
        return super().post(request, *args, **kwargs)


class PasswordResetView(auth_views.PasswordResetView):
    """Django's reset request; the email goes out from a job (QueuedPasswordResetForm)."""

    form_class = QueuedPasswordResetForm
    template_name = "registration/password_reset_form.html"
    http_method_names = ["get", "post", "head", "options"]

    def post(self, request, *args, **kwargs):
        if wait := password_reset_wait(request, request.POST.get("email", "")):
            form = self.get_form_class()(initial=_typed(request, "email"))
            context = self.get_context_data(form=form)
            return too_many_attempts(request, self.template_name, context, "reset a password", wait)
        return super().post(request, *args, **kwargs)


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    """Django's "choose a new password"; a used, old or made-up link answers 404."""

    http_method_names = ["get", "post", "head", "options"]

    def render_to_response(self, context, **kwargs):
        if not context.get("validlink"):
            kwargs["status"] = 404
        return super().render_to_response(context, **kwargs)


def too_many_attempts(request, template, context, action, wait):
    """429, with the form again (nothing of it was checked) and a plain sentence."""
    refused = f"Too many attempts to {action}. Please wait {wait_in_words(wait)} and try again."
    response = render(request, template, {**context, "refused": refused}, status=429)
    response["Retry-After"] = str(math.ceil(wait))
    return response


def _typed(request, *fields):
    return {name: request.POST.get(name, "")[:254] for name in fields}


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
def profile(request):
    current = Profile.objects.filter(user=request.user).first() or Profile(user=request.user)
    form = ProfileForm(request.POST if request.method == "POST" else None, instance=current)
    if request.method == "POST" and form.is_valid():
        profile_update(user=request.user, digest_opt_in=form.cleaned_data["digest_opt_in"])
        messages.info(request, "Saved.")
        return redirect("accounts:profile")
    context = {
        "form": form,
        "deletion": account_deletion_pending(request.user),
        "grace_words": wait_in_words(settings.ACCOUNT_DELETION_GRACE_SECONDS),
    }
    return render(request, "accounts/profile.html", context)


@require_POST
@login_required
def account_delete(request):
    _, created = account_deletion_schedule(user=request.user)
    if created:
        messages.info(request, "Your account will be deleted. You can cancel until then.")
    else:
        messages.info(request, "Your account's deletion was already scheduled.")
    return redirect("accounts:profile")


@require_POST
@login_required
def account_delete_cancel(request):
    if account_deletion_cancel(user=request.user):
        messages.info(request, "Deletion canceled. Your account stays.")
    else:
        messages.error(request, "There was no deletion waiting to cancel.")
    return redirect("accounts:profile")


@require_POST
@staff_member_required
def digest_now(request):
    record = digest_run_now(requested_by=request.user)
    return redirect("jobs:detail", job_id=record.id)


class LogoutView(auth_views.LogoutView):
    """Django's logout, which then says so on the page it redirects to."""

    def post(self, request, *args, **kwargs):
        response = super().post(request, *args, **kwargs)
        messages.info(request, "You are logged out.")
        return response
