"""What the originals app tells whoever listens, without knowing who: the variants app, for one."""

from django.dispatch import Signal

# Sent once an original's record (and its file, when no other record used it) is gone, outside any
# transaction, with `original_id` and `sha256`. transforms purges every variant of it (transforms/apps.py).
original_deleted = Signal()

# Sent once an original's changeable facts (its focal point) are saved, after the commit, with `original_id`.
# transforms forgets what this worker remembered of the original, so its next variants use the new facts.
original_changed = Signal()
