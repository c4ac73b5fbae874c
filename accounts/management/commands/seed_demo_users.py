from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.management.base import BaseCommand

from accounts.models import Profile

DEMO_USERS = [
    # username, password, role: "user", "viewer" (staff who may look at /ops/) or "staff"
    # (a superuser: both ops permissions, and the admin)
    ("demo", "demo-password", "user"),
    ("viewer", "viewer-password", "viewer"),
    ("staff", "staff-password", "staff"),
]


class Command(BaseCommand):
    help = "Create the demo, read-only ops and staff users for local development (if missing)."

    def handle(self, *args, **options):
        User = get_user_model()
        for username, password, role in DEMO_USERS:
            user, created = User.objects.get_or_create(
                username=username,
                defaults={
                    "email": f"{username}@example.com",
                    "is_staff": role != "user",
                    "is_superuser": role == "staff",
                },
            )
            if created:
                user.set_password(password)
                user.save()
                if role == "viewer":
                    user.user_permissions.add(
                        Permission.objects.get(content_type__app_label="jobs", codename="view_ops")
                    )
            Profile.objects.get_or_create(user=user)
            self.stdout.write(f"{role:>6}: {username} / {password}")
