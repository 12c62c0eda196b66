"""A finished run's file is found in every store and every layout: under its content-addressed
key (published by workers to a store other than the data dir) or its plain name (the data
dir's own layout, and any older plain-named object)."""

from __future__ import annotations

import hashlib

import pytest

from app.settings import Settings
from app.storage import ObjectMissing, store_for
from app.storage.runs import artifact_key, key_of, local_file
from tests.fixtures.s3server import S3Server


@pytest.fixture(params=["embedded", "s3"])
def stored(request: pytest.FixtureRequest, settings: Settings) -> Settings:
    if request.param == "embedded":
        return settings
    server: S3Server = request.getfixturevalue("s3_server")
    url = f"s3://{server.new_bucket()}/artifacts"
    return settings.model_copy(update={"artifacts_url": url, "s3_endpoint_url": server.url})


def test_plain_named_files_are_served_and_content_addressed_ones_first(stored: Settings) -> None:
    store = store_for(stored)
    old, new = b"trained before content addressing", b"trained since"
    old_sha, new_sha = hashlib.sha256(old).hexdigest(), hashlib.sha256(new).hexdigest()
    store.put_bytes(key_of("r-old", "model.keras"), old)
    assert local_file(stored, "r-old", "model.keras", old_sha).read_bytes() == old

    store.put_bytes(key_of("r-new", "model.keras"), b"a stale plain copy")
    store.put_bytes(artifact_key("r-new", "model.keras", new_sha), new)
    assert local_file(stored, "r-new", "model.keras", new_sha).read_bytes() == new

    with pytest.raises(ObjectMissing):
        local_file(stored, "r-gone", "model.keras", old_sha)
