import math

from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from accounts.forms import ProfileForm, SignupForm
from accounts.limits import login_wait, signup_wait, wait_in_words
from accounts.models import Profile
from accounts.services import digest_run_now, profile_update, user_signup


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
    return render(request, "accounts/profile.html", {"form": form})


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
