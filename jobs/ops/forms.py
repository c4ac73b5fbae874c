"""The job search's filters: what /ops/jobs/ takes as query parameters, validated."""

import re
import uuid

from django import forms

from jobs.conf import jobs_settings
from jobs.models import JobRecord

HEX_ID = re.compile(r"^[0-9a-f]{4,32}$")  # an id or its prefix, without its dashes


class JobSearchForm(forms.Form):
    """Every field is optional; an empty form matches every job.

    `q` is an id, or its first four characters or more, when it is made of hex digits
    (dashes are ignored); anything else is looked for in the jobs' last error.
    """

    q = forms.CharField(required=False, max_length=200, label="Id or error text")
    status = forms.ChoiceField(required=False, choices=[("", "any"), *JobRecord.Status.choices])
    kind = forms.CharField(required=False, max_length=64)
    queue = forms.ChoiceField(required=False)
    owner = forms.CharField(required=False, max_length=150, label="Owner (username)")
    since = forms.DateTimeField(required=False, label="Created after")
    until = forms.DateTimeField(required=False, label="Created before")
    error = forms.CharField(required=False, max_length=200, label="Error text")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        names = jobs_settings.RQ_QUEUE_NAMES
        self.fields["queue"].choices = [("", "any")] + [(name, name) for name in names]

    def id_range(self):
        """(lowest, highest) UUID whose hex starts with `q`, or None if `q` is no id."""
        q = self.cleaned_data.get("q", "").strip().lower().replace("-", "")
        if not HEX_ID.match(q):
            return None
        return uuid.UUID(q.ljust(32, "0")), uuid.UUID(q.ljust(32, "f"))

    def error_text(self):
        """The text to look for in errors: `error`, else a `q` that is not an id."""
        error = self.cleaned_data.get("error", "").strip()
        q = self.cleaned_data.get("q", "").strip()
        if error:
            return error
        return q if q and self.id_range() is None else ""

    def filters(self):
        """The valid filters as a dict of query parameters, for links and bulk actions."""
        return {
            name: value
            for name in self.fields
            if (value := self.data.get(name, "").strip()) and name not in self.errors
        }
