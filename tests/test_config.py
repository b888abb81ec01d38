from pathlib import Path

import pytest

from toolkit.config import ExperimentConfig, build_config, load_config
from toolkit.errors import ConfigError

EXPERIMENTS = sorted((Path(__file__).parents[1] / "experiments").glob("*.toml"))


def test_there_are_experiment_files():
    assert EXPERIMENTS, "experiments/ must hold at least one experiment file"


@pytest.mark.parametrize("path", EXPERIMENTS, ids=lambda p: p.name)
def test_every_experiment_file_loads(path):
    cfg = load_config(path)
    assert isinstance(cfg, ExperimentConfig)
    text = path.read_text(encoding="utf-8")
    assert text.lstrip().startswith("#"), "each experiment starts with its research question"


def test_defaults_are_valid_and_hash_is_stable():
    a, b = build_config({}), build_config({})
    assert a.config_hash() == b.config_hash()
    assert a.flat()["model.max_depth"] == a.model.max_depth
    assert build_config({"model": {"max_depth": 3}}).config_hash() != a.config_hash()


def test_unknown_key_names_the_key_and_allowed_keys():
    with pytest.raises(ConfigError) as err:
        build_config({"world": {"n_user": 10}})
    msg = str(err.value)
    assert "unknown config key 'world.n_user'" in msg
    assert "n_users" in msg


def test_type_error_names_key_and_expected_type(tmp_path):
    f = tmp_path / "bad.toml"
    f.write_text('[model]\nmax_depth = "deep"\n')
    with pytest.raises(ConfigError) as err:
        load_config(f)
    assert "config key 'model.max_depth' must be of type int, got 'deep'" in str(err.value)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"world": {"n_users": 0}}, "n_users must be a positive whole number, got 0"),
        ({"world": {"n_users": -5}}, "n_users must be a positive whole number, got -5"),
        ({"world": {"segment_mix": {"salaried": 0.5, "student": 0.2}}},
         "segment_mix sums to 0.7; the shares must sum to 1"),
        ({"world": {"stress_episodes": [{"start": "2026-06", "months": 3, "severity": 1.0}]}},
         "stress episode starting 2026-06 for 3 months lies outside the calendar 2021-01..2025-12"),
        ({"policy": {"normal_cutoff": 1.2}}, "cutoff 1.2 is outside (0, 1)"),
        ({"policy": {"stressed_cutoff": 0.0}}, "cutoff 0.0 is outside (0, 1)"),
    ],
)
def test_bad_values_are_named(overrides, message):
    with pytest.raises(ConfigError) as err:
        build_config(overrides)
    assert message in str(err.value)


def test_missing_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.toml")
