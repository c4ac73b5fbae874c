from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler, SkipFile


class RequestSizeLimitHandler(FileUploadHandler):
    """Skip every file of a request over UPLOAD_MAX_REQUEST_BYTES, and keep its fields.

    uploads.middleware.UploadLimitMiddleware answers such an upload with 413 before its
    body is read. Whatever else reads request.POST of one (another URL, a stack without
    that middleware) gets here: nothing of its files is stored, but the form fields, the
    CSRF token among them, are parsed, so the CSRF check and the view still run, and
    uploads.views.upload explains the limit from Content-Length.

    Django catches SkipFile from new_file(). It does not catch StopUpload raised from
    handle_raw_input(): that became a 500 (and a second one in the 500 view, which reads
    request.POST again), so this handler never raises there.
    """

    over_limit = False

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        self.over_limit = content_length > settings.UPLOAD_MAX_REQUEST_BYTES
        return None  # let Django parse the body

    def new_file(self, *args, **kwargs):
        super().new_file(*args, **kwargs)
        if self.over_limit:
            raise SkipFile()  # Django reads past this file's bytes and drops them

    def receive_data_chunk(self, raw_data, start):
        return raw_data

    def file_complete(self, file_size):
        return None
