"""What the originals app tells whoever listens, without knowing who: the variants app, for one."""

from django.dispatch import Signal

# Sent once an original's record (and its file, when no other record used it) is gone, outside any
# transaction, with `original_id` and `sha256`. transforms purges every variant of it (transforms/apps.py).
original_deleted = Signal()
