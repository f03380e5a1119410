"""URL state round trips: what differs from a page's default, including fields switched off."""
import pytest

from optviz import parse_config
from optviz.ui.urlstate import config_from_query, config_to_query

DEFAULTS = [
    parse_config({}),
    parse_config({"problem": {"surface": "quadratic", "options": {"eigenvalues": [1, 10], "angle": 0}},
                  "optimizer": {"name": "SGD", "options": {"lr": 0.01, "momentum": 0.9}, "groups": {"x": {}, "y": {"lr": 0.001}}},
                  "scheduler": {"name": "StepLR"}}),
]
CONFIGS = [
    {},
    {"optimizer": {"name": "Adam", "options": {"lr": 0.05}}},
    {"optimizer": {"name": "SGD", "options": {"lr": 0.002}}},
    {"optimizer": {"name": "SGD", "options": {"lr": 0.01}, "groups": {"x": {"lr": 0.5}, "y": {}}}},
    {"problem": {"surface": "beale", "start": [1, 1]}, "scheduler": None},
    {"problem": {"expression": "x**2 + y**2", "domain": [[-1, 1], [-2, 2]]}, "steps": 50},
    {"problem": {"surface": "quadratic", "options": {"eigenvalues": [2, 3], "angle": 45}},
     "scheduler": {"name": "OneCycleLR", "interval": "step"}},
]


@pytest.mark.parametrize("default", DEFAULTS, ids=["plain-default", "grouped-default"])
@pytest.mark.parametrize("data", CONFIGS)
def test_a_link_restores_the_exact_config(default, data):
    config = parse_config(data)
    text = config_to_query(config, default)
    back, warning = config_from_query(text, default)
    assert warning is None
    assert back.key() == config.key()


def test_the_default_needs_no_settings_in_the_link():
    for default in DEFAULTS:
        assert config_to_query(default, default) == "{}"
