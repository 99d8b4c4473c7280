import pandas as pd
import pytest

from socialvalue.decisions import default_playbook, load_playbook, validate_playbook
from socialvalue.errors import ConfigError


def _minimal(**action):
    base = {"name": "nudge", "label": "Nudge", "cost": 1.0, "uplift": 0.1}
    base.update(action)
    return {
        "actions": [
            base,
            {"name": "do_nothing", "label": "Do nothing", "marketing": False, "cost": 0, "uplift": 0},
        ]
    }


def test_default_playbook_covers_every_lifecycle_stage():
    pb = default_playbook()
    names = {a.name for a in pb.actions}
    assert {
        "welcome_onboarding",
        "second_purchase_nudge",
        "loyalty_upgrade",
        "referral_invitation",
        "influencer_programme",
        "review_request",
        "win_back",
        "reactivation",
        "do_nothing",
    } == names
    stages = {
        v
        for a in pb.actions
        for c in a.conditions
        if c.column == "lifecycle_stage"
        for v in (c.value if isinstance(c.value, list) else [c.value])
    }
    assert stages == {"introduction", "growth", "maturity", "decline", "churned"}


def test_error_names_action_and_field():
    with pytest.raises(
        ConfigError, match=r"action 'nudge' field 'cost': Input should be greater than or equal to 0"
    ):
        validate_playbook(_minimal(cost=-1))


def test_error_names_condition_field():
    bad = _minimal(conditions=[{"column": "p_alive", "op": "<", "value": "low"}])
    with pytest.raises(
        ConfigError, match=r"action 'nudge' field 'conditions.0': Value error, op '<' needs a number"
    ):
        validate_playbook(bad)


def test_unknown_key_is_refused(tmp_path):
    path = tmp_path / "pb.toml"
    path.write_text(
        '[[actions]]\nname = "nudge"\nlabel = "N"\ncost = 1\nuplift = 0.1\ncolour = "red"\n'
        '[[actions]]\nname = "do_nothing"\nlabel = "x"\nmarketing = false\ncost = 0\nuplift = 0\n'
    )
    with pytest.raises(ConfigError, match=r"action 'nudge' field 'colour': Extra inputs are not permitted"):
        load_playbook(path)


def test_fallback_must_exist_and_be_free():
    data = _minimal()
    data["fallback"] = "nothing"
    with pytest.raises(ConfigError, match="fallback action 'nothing' is not among the actions"):
        validate_playbook(data)


def test_unknown_column_named_with_action():
    pb = validate_playbook(_minimal(conditions=[{"column": "mood", "op": "==", "value": "happy"}]))
    with pytest.raises(ConfigError, match=r"action 'nudge' field 'conditions': unknown column 'mood'"):
        pb.check_columns(pd.DataFrame({"customer_id": ["a"]}))
