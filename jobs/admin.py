from django.contrib import admin

from jobs.models import IdempotencyKey, JobRecord


@admin.register(JobRecord)
class JobRecordAdmin(admin.ModelAdmin):
    list_display = ["id", "kind", "owner", "queue", "status", "progress", "attempts", "created_at"]
    list_filter = ["kind", "status", "queue"]
    search_fields = ["id", "owner__username", "owner__email"]
    raw_id_fields = ["owner", "depends_on"]
    readonly_fields = ["created_at", "enqueued_at", "started_at", "finished_at", "updated_at"]


@admin.register(IdempotencyKey)
class IdempotencyKeyAdmin(admin.ModelAdmin):
    list_display = ["key", "claimed_at", "done_at"]
    search_fields = ["key"]
