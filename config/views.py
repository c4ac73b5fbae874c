"""Pages that belong to the site rather than to one app."""

from django.conf import settings
from django.http import Http404
from django.shortcuts import render


def home(request):
    return render(request, "home.html")


def dev_mail(request):
    """The messages Django's file email backend wrote: development only."""
    if not (settings.DEBUG and settings.EMAIL_BACKEND.endswith("filebased.EmailBackend")):
        raise Http404("The mail page exists only in development with the file email backend.")
    mail_dir = settings.MAIL_DIR
    files = sorted(mail_dir.glob("*.log"), key=lambda p: p.stat().st_mtime, reverse=True)
    messages = [
        {"name": path.name, "body": path.read_text(errors="replace")} for path in files[:50]
    ]
    return render(request, "dev/mail.html", {"messages": messages, "mail_dir": mail_dir})
