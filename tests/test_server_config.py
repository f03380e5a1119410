"""The server settings capacity depends on: .streamlit/config.toml turns off Streamlit's post-run full GC, by a name
this Streamlit still reads (an unknown option would be ignored without a word)."""
import tomllib
from pathlib import Path

from streamlit import config as st_config

CONFIG = Path(__file__).resolve().parents[1] / ".streamlit" / "config.toml"


def test_no_full_gc_after_every_script_run():
    settings = tomllib.loads(CONFIG.read_text(encoding="utf-8"))
    assert settings["runner"]["postScriptGC"] is False
    assert "runner.postScriptGC" in st_config._config_options_template   # still an option Streamlit reads
