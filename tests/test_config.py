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
    assert build_config({"model": {"max_depth": 5}}).config_hash() != a.config_hash()


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
        ({"world": {"n_users": 0}}, "n_users must be a whole number from 1 to 100,000,000, got 0"),
        ({"world": {"n_users": -5}},
         "n_users must be a whole number from 1 to 100,000,000, got -5"),
        ({"world": {"segment_mix": {"salaried": 0.5, "student": 0.2}}},
         "segment_mix sums to 0.7; the shares must sum to 1"),
        ({"world": {"stress_episodes": [{"start": "2028-11", "months": 3, "severity": 1.0}]}},
         "world.stress_episodes: the episode starting 2028-11 for 3 months lies outside the "
         "calendar 2021-01..2028-12; allowed: episodes from 2021-01 that end by 2028-12"),
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


def test_set_overrides_merge_over_the_file(tmp_path):
    f = tmp_path / "exp.toml"
    f.write_text("# q\n[world]\nname = \"mine\"\n[model]\nmax_depth = 3\n")
    cfg = load_config(f, ["world.n_users=1234", 'explain.lang="zh"', "model.monotone=false"])
    assert (cfg.world.name, cfg.world.n_users) == ("mine", 1234)
    assert cfg.model.max_depth == 3 and cfg.model.monotone is False
    assert cfg.explain.lang == "zh"


@pytest.mark.parametrize(
    ("sets", "message"),
    [
        (["n_users"], "--set 'n_users' is not of the form section.key=value"),
        (["world..n=1"], "is not of the form section.key=value"),
        (["world.n_users=many"], "config key 'world.n_users' must be of type int, got 'many'"),
        (["world.size=3"], "unknown config key 'world.size'"),
    ],
)
def test_bad_set_overrides(sets, message):
    with pytest.raises(ConfigError) as err:
        load_config(None, sets)
    assert message in str(err.value)


def test_policy_defaults_to_the_worlds_platform_policy():
    cfg = build_config({"world": {"platform": {"normal_cutoff": 0.3, "stressed_cutoff": 0.2}},
                        "policy": {"tighten_in_stress": False}})
    assert (cfg.policy.normal_cutoff, cfg.policy.stressed_cutoff) == (0.3, 0.2)
    assert cfg.policy.tighten_in_stress is False
    assert cfg.world.platform.tighten_in_stress is True
    platform = build_config({}).world.platform
    # the toolkit's policy adds only the own-table keys (cutoff, approval_rate) to it
    assert build_config({}).policy.model_dump(include=set(type(platform).model_fields)) == \
        platform.model_dump()


@pytest.mark.parametrize(
    ("sets", "message"),
    [
        (["model.max_detph=5"], "--set model.max_detph=5: unknown config key 'model.max_detph'"),
        (["model.max_depth=-3"],
         "config key 'model.max_depth': Input should be greater than or equal to 1, got -3"),
        (['explain.lang="fr"'],
         "config key 'explain.lang': Input should be 'en' or 'zh', got 'fr'"),
        (["model=5"], "config key 'model' must be a table of keys ([model]), got 5"),
    ],
)
def test_set_mistakes_are_blamed_on_set_and_name_the_value(sets, message):
    with pytest.raises(ConfigError) as err:
        load_config(EXPERIMENTS[0], sets)
    assert message in str(err.value)
