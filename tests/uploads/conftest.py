import pytest


@pytest.fixture
def folder_storage(tmp_path):
    """The default photo storage in tests: a folder in this test's DATA_DIR."""
    return tmp_path / "photos"
