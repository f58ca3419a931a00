"""Several PBXs: ``[[pbx]]`` tables of the config file into :class:`PbxSource` values, and
the single ``ami_url`` as the one PBX of a one-PBX installation; bad tables refused with
the table and the key named."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from callhook.bootstrap import build
from callhook.config import ConfigError, PbxSource, load, pbx_sources
from callhook.store.memory import MemoryStore

TWO = """
directory = "{directory}"

[[pbx]]
name = "prague"
ami = "ami://u:s@10.0.0.5:5038"

[[pbx]]
name = "brno"
ami = "ami://u:s@10.0.1.5:5038"
directory = "{brno}"
tenant = "globex"
"""


def _write(tmp: Path, text: str) -> str:
    p = tmp / "callhook.toml"
    p.write_text(text)
    return str(p)


def _dirs(tmp: Path) -> tuple[Path, Path]:
    main, brno = tmp / "main.json", tmp / "brno.json"
    main.write_text(json.dumps({"tenant": "lab", "extensions": [{"number": "20", "channel": "PJSIP/20"}]}))
    brno.write_text(json.dumps({"extensions": [{"number": "20", "channel": "PJSIP/20"}]}))
    return main, brno


def test_pbx_tables_are_the_pbxs(tmp_path: Path) -> None:
    main, brno = _dirs(tmp_path)
    cfg = load({}, {}, _write(tmp_path, TWO.format(directory=main, brno=brno)))
    assert pbx_sources(cfg) == (
        PbxSource("prague", "ami://u:s@10.0.0.5:5038"),
        PbxSource("brno", "ami://u:s@10.0.1.5:5038", str(brno), "globex"),
    )


def test_in_a_callhook_table_too(tmp_path: Path) -> None:
    text = '[callhook]\nlisten = "127.0.0.1:9000"\n\n[[pbx]]\nname = "a"\nami = "ami://u:s@h:5038"\n'
    cfg = load({}, {}, _write(tmp_path, text))
    assert [p.name for p in pbx_sources(cfg)] == ["a"]
    assert cfg.listen == "127.0.0.1:9000"


def test_the_single_ami_url_is_one_pbx_named_by_pbx_name() -> None:
    cfg = load({"ami_url": "ami://u:s@h:5038"}, {"CALLHOOK_PBX_NAME": "hq"})
    assert pbx_sources(cfg) == (PbxSource("hq", "ami://u:s@h:5038"),)
    assert pbx_sources(load({}, {})) == ()  # webhooks in only


@pytest.mark.parametrize(
    ("tables", "message"),
    [
        ('[[pbx]]\nami = "ami://u:s@h:1"\n', "pbx[0]: name is required"),
        ('[[pbx]]\nname = "a"\n', "pbx[0]: ami is required"),
        ('[[pbx]]\nname = "a"\nami = "http://h"\n', "pbx[0]: ami: expected ami://"),
        ('[[pbx]]\nname = "a"\nami = "ami://u:s@h:1"\nport = 1\n', "pbx[0]: unknown key 'port'"),
        ('[[pbx]]\nname = " a"\nami = "ami://u:s@h:1"\n', "pbx[0]: name: expected a name"),
        ('[[pbx]]\nname = "a"\nami = "ami://u:s@h:1"\ntenant = 5\n', "pbx[0]: tenant: expected text"),
        (
            '[[pbx]]\nname = "a"\nami = "ami://u:s@h:1"\n[[pbx]]\nname = "a"\nami = "ami://u:s@h:2"\n',
            "pbx[1]: name 'a' is used by another",
        ),
        ('pbx = "a"\n', "pbx: expected [[pbx]] tables"),
    ],
)
def test_bad_tables_are_refused(tmp_path: Path, tables: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load({}, {}, _write(tmp_path, tables))


def test_the_environment_takes_a_json_array(tmp_path: Path) -> None:
    listed = [{"name": "hq", "ami": "ami://u:s@h:5038", "tenant": "acme"}]
    file = _write(tmp_path, '[[pbx]]\nname = "a"\nami = "ami://u:s@h:1"\n')
    cfg = load({}, {"CALLHOOK_PBXS": json.dumps(listed)}, file)  # the environment wins over the file
    assert pbx_sources(cfg) == (PbxSource("hq", "ami://u:s@h:5038", "", "acme"),)
    with pytest.raises(ConfigError, match="CALLHOOK_PBXS: not valid JSON"):
        load({}, {"CALLHOOK_PBXS": "hq=ami://u:s@h:1"})
    with pytest.raises(ConfigError, match=r"CALLHOOK_PBXS\[0\]: ami is required"):
        load({}, {"CALLHOOK_PBXS": '[{"name": "hq"}]'})


def test_tables_and_an_ami_flag_are_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, '[[pbx]]\nname = "a"\nami = "ami://u:s@h:1"\n')
    with pytest.raises(ConfigError, match=r"\[\[pbx\]\] tables.*not both"):
        load({"ami_url": "ami://u:s@h:2"}, {}, path)


def test_each_pbx_gets_its_directory_and_tenant(tmp_path: Path) -> None:
    main, brno = _dirs(tmp_path)
    cfg = load({}, {}, _write(tmp_path, TWO.format(directory=main, brno=brno)))
    hub = build(cfg, store=MemoryStore(), admin_token="admin-token-0123456789")
    prague, other = hub.pbxes
    assert (prague.name, other.name) == ("prague", "brno")
    assert prague.directories is hub.directories  # no directory of its own: the deployment's
    assert prague.directory_state is None
    assert other.directory.tenant == "globex"  # its file names no tenant: the config's
    assert other.directory.extension("20") is not None
    assert other.directory_state is not None
    assert other.directory_state.scope == "pbx:brno"
    assert prague.tracker is not other.tracker
    # a directory edit of one PBX reaches that PBX only
    hub.directories.replace(hub.directory)
    assert other.tracker.directory is other.directory


def test_a_tenant_that_contradicts_the_pbxs_directory_is_refused(tmp_path: Path) -> None:
    own = tmp_path / "own.json"
    own.write_text(json.dumps({"tenant": "acme", "extensions": []}))
    text = f'[[pbx]]\nname = "a"\nami = "ami://u:s@h:1"\ndirectory = "{own}"\ntenant = "globex"\n'
    cfg = load({}, {}, _write(tmp_path, text))
    with pytest.raises(ConfigError, match="tenant 'globex' differs from the tenant 'acme'"):
        build(cfg, store=MemoryStore(), admin_token="admin-token-0123456789")
