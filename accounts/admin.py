"""The admin's user pages, with the email rule the database enforces.

accounts/migrations/0002 makes emails unique whatever their case. Django's user form
does not know that rule, so staff changing an email to another account's would meet
the database's IntegrityError (a 500) instead of a form error.
"""

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.forms import UserChangeForm
from django.core.exceptions import ValidationError

from accounts.services import EMAIL_TAKEN

User = get_user_model()


class UserChangeFormWithUniqueEmail(UserChangeForm):
    def clean_email(self):
        email = self.cleaned_data.get("email", "")
        others = User.objects.exclude(pk=self.instance.pk)
        if email and others.filter(email__iexact=email).exists():
            raise ValidationError(EMAIL_TAKEN)
        return email


admin.site.unregister(User)


@admin.register(User)
class UserAdminWithUniqueEmail(UserAdmin):
    form = UserChangeFormWithUniqueEmail
