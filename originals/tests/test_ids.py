"""Original ids: 12 URL-safe characters, the first a letter or digit, so no id reads as a command-line option."""

import re

from originals.models import ORIGINAL_ID, new_original_id


def test_new_ids_start_with_a_letter_or_digit():
    # One id in 32 used to start with '-' or '_'; 20,000 draws would show about 625 of them.
    ids = [new_original_id() for _ in range(20_000)]
    assert all(re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]{11}", original_id) for original_id in ids)
    assert all(ORIGINAL_ID.fullmatch(original_id) for original_id in ids)
    assert len(set(ids)) == len(ids)
    # Every other character keeps the whole URL-safe alphabet.
    assert {"-", "_"} <= {ch for original_id in ids for ch in original_id[1:]}
