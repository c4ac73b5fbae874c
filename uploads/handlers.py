from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler, StopUpload


class RequestSizeLimitHandler(FileUploadHandler):
    """Stop storing an upload whose request is over the limit, before any file is written.

    Django still reads (and discards) the rest of the body so that the browser receives
    our 413 page; uploads.views.upload then explains the limit.
    """

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        if content_length > settings.UPLOAD_MAX_REQUEST_BYTES:
            raise StopUpload(connection_reset=False)

    def receive_data_chunk(self, raw_data, start):
        return raw_data

    def file_complete(self, file_size):
        return None
