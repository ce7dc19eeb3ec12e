"""Logging helpers with no Django imports, so LOGGING can load them before the apps are ready."""

import contextvars
import logging

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")


class RequestIdFilter(logging.Filter):
    """Adds the current request's id to every log record, so one request's lines can be found together."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_id_var.get()
        return True


class DowngradeToWarning(logging.Filter):
    """Makes a record one WARNING line without a traceback.

    For django.security.DisallowedHost: Django logs every request with a Host outside ALLOWED_HOSTS as an
    ERROR with its traceback, though it is the client's mistake (or a scanner's) and is answered with a 400;
    and for a body over DATA_UPLOAD_MAX_MEMORY_SIZE or the field limits, answered with a 413.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        record.levelno, record.levelname = logging.WARNING, logging.getLevelName(logging.WARNING)
        record.exc_info, record.exc_text, record.stack_info = None, None, None
        return True


class RequestTextFormatter(logging.Formatter):
    """The text log (LOG_FORMAT=text, the quick start's): a request's line carries what the JSON log's fields do,
    `GET /image/Xb3k…/ 200 route=image 41.2ms cache=miss bytes=18234`, so a local log answers the same questions."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        line = super().formatMessage(record)
        fields = record.__dict__
        if "duration_ms" not in fields:
            return line
        return (
            f"{line} route={fields.get('route') or '-'} {fields['duration_ms']}ms "
            f"cache={fields.get('cache') or '-'} bytes={fields.get('bytes') or '-'}"
        )
