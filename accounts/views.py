from django.contrib.auth import login
from django.shortcuts import redirect, render

from accounts.forms import SignupForm
from accounts.services import user_signup


def signup(request):
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user, welcome = user_signup(
            username=form.cleaned_data["username"],
            email=form.cleaned_data["email"],
            password=form.cleaned_data["password1"],
        )
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        return redirect("jobs:detail", job_id=welcome.id)
    return render(request, "accounts/signup.html", {"form": form})
