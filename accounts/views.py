from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from accounts.forms import ProfileForm, SignupForm
from accounts.models import Profile
from accounts.services import digest_run_now, profile_update, user_signup


def signup(request):
    form = SignupForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        user, welcome = user_signup(
            username=form.cleaned_data["username"],
            email=form.cleaned_data["email"],
            password=form.cleaned_data["password1"],
        )
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        return redirect("jobs:detail", job_id=welcome.id)
    return render(request, "accounts/signup.html", {"form": form})


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
