"""The composition root's directory holder: one replace() and every reader has the new
directory (the hub, the tracker and its agent book, the PBX actions, ingest), with its
DID -> tenant map."""

from __future__ import annotations

import asyncio

from callhook.bootstrap import build
from callhook.config import Config
from callhook.core.directory import Directory
from callhook.store.memory import MemoryStore

from labdata import lab_directory


def test_one_replace_reaches_every_reader() -> None:
    async def main() -> None:
        config = Config(database_url="memory://", ami_url="ami://lab:labsecret@127.0.0.1:5038")  # not started
        hub = build(config, store=MemoryStore(), directory=lab_directory(), admin_token="admin-token-0123456789")
        try:
            new = Directory.from_mapping(
                {
                    "tenant": "acme",
                    "extensions": [{"number": "30", "name": "Eva", "channel": "PJSIP/30"}],
                    "dids": {"555": {"description": "globex line", "tenant": "globex"}},
                }
            )
            hub.directories.replace(new)
            assert hub.directory is new
            assert hub.pbxes[0].tracker.directory is new
            assert hub.pbxes[0].tracker.agents.directory is new
            assert hub.pbxes[0].actions.directory is new
            assert hub.pbxes[0].tracker.tenant == "acme"
            assert hub.pbxes[0].tracker.directory.did_tenant("555") == "globex"
            assert hub.directories.version == 1
        finally:
            await hub.stop()

    asyncio.run(main())
