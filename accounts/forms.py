from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import PasswordResetForm, UserCreationForm
from django.contrib.auth.validators import ASCIIUsernameValidator

from accounts.models import Profile
from accounts.services import EMAIL_TAKEN, password_reset_request

USERNAME_HELP = "Up to 150 characters: English letters, digits and @ . + - _ only."


class SignupForm(UserCreationForm):
    """Signup, with a username nobody can mistake for another's.

    Django folds Unicode width variants together (NFKC: fullwidth letters become ASCII)
    and refuses a name that differs from a taken one only in case. Letters that merely
    look alike (a Cyrillic "a" in "alice") survive both, so usernames are ASCII here.
    """

    email = forms.EmailField(max_length=254, help_text="We send a welcome email here.")

    class Meta(UserCreationForm.Meta):
        model = get_user_model()
        fields = ("username", "email")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["username"].validators.append(ASCIIUsernameValidator())
        self.fields["username"].help_text = USERNAME_HELP

    def clean_email(self):
        email = self.cleaned_data["email"].strip().lower()
        if get_user_model().objects.filter(email__iexact=email).exists():
            raise forms.ValidationError(EMAIL_TAKEN)
        return email


class ProfileForm(forms.ModelForm):
    class Meta:
        model = Profile
        fields = ("digest_opt_in",)


class QueuedPasswordResetForm(PasswordResetForm):
    """Django's reset form, but the email is a job on the `high` queue.

    Django calls send_mail once per active account with this email (none for an unknown
    one, so the page after it is the same either way); here it enqueues the job with the
    link's pieces instead of talking to SMTP inside the request.
    """

    def send_mail(self, subject_template_name, email_template_name, context, *args, **kwargs):
        password_reset_request(
            user=context["user"],
            uid=context["uid"],
            token=context["token"],
            domain=context["domain"],
            protocol=context["protocol"],
        )
