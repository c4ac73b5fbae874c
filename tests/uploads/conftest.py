import os
import tempfile
from pathlib import Path

import pytest

# Hypothesis caches what it learns under .hypothesis/ in the working directory, from
# collection on, even with no example database (the fuzz tests use none): not in ours.
os.environ.setdefault(
    "HYPOTHESIS_STORAGE_DIRECTORY", str(Path(tempfile.gettempdir()) / "photo-site-hypothesis")
)


@pytest.fixture
def folder_storage(tmp_path):
    """The default photo storage in tests: a folder in this test's DATA_DIR."""
    return tmp_path / "photos"
