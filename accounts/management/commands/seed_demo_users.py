from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from accounts.models import Profile

DEMO_USERS = [
    # username, password, is_staff
    ("demo", "demo-password", False),
    ("staff", "staff-password", True),
]


class Command(BaseCommand):
    help = "Create the demo and staff users for local development (only if missing)."

    def handle(self, *args, **options):
        User = get_user_model()
        for username, password, is_staff in DEMO_USERS:
            user, created = User.objects.get_or_create(
                username=username,
                defaults={
                    "email": f"{username}@example.com",
                    "is_staff": is_staff,
                    "is_superuser": is_staff,
                },
            )
            if created:
                user.set_password(password)
                user.save()
            Profile.objects.get_or_create(user=user)
            role = "staff" if is_staff else "user"
            self.stdout.write(f"{role:>5}: {username} / {password}")
