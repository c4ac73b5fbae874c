from django.contrib import admin, messages

from jobs.models import IdempotencyKey, JobRecord
from jobs.services import job_cancel, job_requeue


@admin.register(JobRecord)
class JobRecordAdmin(admin.ModelAdmin):
    list_display = ["id", "kind", "owner", "queue", "status", "progress", "attempts", "created_at"]
    list_filter = ["kind", "status", "queue"]
    search_fields = ["id", "owner__username", "owner__email"]
    raw_id_fields = ["owner", "depends_on"]
    readonly_fields = ["created_at", "enqueued_at", "started_at", "finished_at", "updated_at"]
    actions = ["requeue", "cancel"]
    # templates/admin/jobs/jobrecord/change_list.html links to /ops/ and django-rq's dashboard.

    @admin.action(description="Requeue selected failed or canceled jobs")
    def requeue(self, request, queryset):
        requeued = sum(job_requeue(record=record) for record in queryset)
        self._report(request, "Requeued", requeued, len(queryset), "failed or canceled")

    @admin.action(description="Cancel selected jobs that have not started")
    def cancel(self, request, queryset):
        canceled = sum(job_cancel(record=record, reason="Canceled by staff") for record in queryset)
        self._report(request, "Canceled", canceled, len(queryset), "waiting")

    def _report(self, request, done_word, done, selected, eligible):
        message = f"{done_word} {done} of {selected} selected jobs."
        if done < selected:
            message += f" Only {eligible} jobs can be; the others were left as they were."
        level = messages.SUCCESS if done == selected else messages.WARNING
        self.message_user(request, message, level)


@admin.register(IdempotencyKey)
class IdempotencyKeyAdmin(admin.ModelAdmin):
    list_display = ["key", "claimed_at", "done_at"]
    search_fields = ["key"]

    def get_object(self, request, object_id, from_field=None):
        # PostgreSQL refuses a NUL byte in text: a key with one names no key, not an error.
        if "\x00" in object_id:
            return None
        return super().get_object(request, object_id, from_field)
