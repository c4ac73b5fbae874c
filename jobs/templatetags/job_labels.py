"""`{{ kind|job_label }}`: a job's human name where a page knows only its kind."""

from django import template

from jobs.base import label_for_kind

register = template.Library()


@register.filter
def job_label(kind):
    return label_for_kind(kind)
