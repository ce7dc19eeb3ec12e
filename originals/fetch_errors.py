"""The refusal of an import by URL: a stable code, a sentence, and the HTTP status it is answered with."""


class FetchError(Exception):
    """Why a URL was not fetched; the caller answers it naming the parameter `url`. 4xx: the URL or where it led
    is not allowed; 502/504: the remote server failed or was too slow; 413: its body is over the limit."""

    def __init__(self, message: str, *, code: str, status: int):
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status
