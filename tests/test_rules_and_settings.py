"""Routing rules and settings parsing: small pure parts, tested directly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assistant.routing.rules import first_match, load_rules
from assistant.settings import Settings, default_model_path


def write_rules(tmp_path: Path, rules: object) -> Path:
    path = tmp_path / "rules.json"
    path.write_text(json.dumps(rules))
    return path


def test_first_matching_rule_wins_and_all_conditions_must_hold(tmp_path: Path) -> None:
    rules = load_rules(
        write_rules(
            tmp_path,
            {
                "rules": [
                    {"name": "chat_fraud", "keywords": ["fraud", "stolen"], "channels": ["chat"], "department": "sec"},
                    {"name": "any_fraud", "pattern": r"fraud|scam", "department": "risk"},
                    {"name": "vip", "customer_tiers": ["VIP"], "department": "priority"},
                ]
            },
        )
    )

    def match(text: str, channel: str = "email", tier: str | None = None) -> str | None:
        rule = first_match(rules, text=text, channel=channel, customer_tier=tier, source="zd")
        return rule.name if rule else None

    assert match("I think this is FRAUD", channel="chat") == "chat_fraud"
    assert match("I think this is fraud", channel="email") == "any_fraud"
    assert match("my card was stolen", channel="email") is None  # keyword rule needs chat
    assert match("defrauded?", channel="chat") == "any_fraud"  # keywords match whole words only
    assert match("hello", tier="vip") == "vip"
    assert match("hello") is None


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        ([{"name": "x", "department": "d"}], "no condition"),
        ([{"name": "x", "department": "d", "pattern": "("}], "bad pattern"),
        ([{"department": "d", "keywords": ["a"]}], "name and a department"),
        ([{"name": "x", "department": "d", "keywords": ["a"], "colour": "red"}], "unknown fields"),
        (
            [{"name": "x", "department": "d", "keywords": ["a"]}, {"name": "x", "department": "e", "keywords": ["b"]}],
            "unique",
        ),
    ],
)
def test_bad_rules_are_refused_with_a_reason(tmp_path: Path, rules: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        load_rules(write_rules(tmp_path, rules))


def test_settings_from_environment(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {
            "ASSISTANT_DATA_DIR": str(tmp_path),
            "ASSISTANT_PORT": "9001",
            "ASSISTANT_CONFIDENCE_THRESHOLD": "0.7",
            "ASSISTANT_WEBHOOK_SECRETS": "zendesk=abc, freshdesk=def",
            "ASSISTANT_DEMO": "false",
            "UNRELATED": "x",
        }
    )
    assert settings.port == 9001 and settings.confidence_threshold == 0.7 and settings.demo is False
    assert settings.webhook_secrets == {"zendesk": "abc", "freshdesk": "def"}
    assert settings.resolved_database_url == f"sqlite:///{tmp_path.resolve() / 'assistant.db'}"
    assert Settings.from_env({"ASSISTANT_WEBHOOK_SECRETS": '{"a": "b"}'}).webhook_secrets == {"a": "b"}
    assert Settings.from_env({"ASSISTANT_DEFAULT_LANGUAGE": " DE "}).default_language == "de"
    assert Settings.from_env({"ASSISTANT_DEFAULT_LANGUAGE": ""}).default_language == ""
    with pytest.raises(ValueError, match="ASSISTANT_DEFAULT_LANGUAGE must be one of"):
        Settings.from_env({"ASSISTANT_DEFAULT_LANGUAGE": "klingon"})
    with pytest.raises(ValueError, match="ASSISTANT_PORT='abc'"):
        Settings.from_env({"ASSISTANT_PORT": "abc"})


def test_default_model_ships_inside_a_package() -> None:
    model = Path(default_model_path())
    assert (model / "config.json").is_file() and (model / "model.safetensors").is_file()


def test_config_files_saved_with_a_bom_load(tmp_path: Path) -> None:
    """Windows editors save UTF-8 with a byte-order mark; the rules, business hours and taxonomy files still load."""
    from classifiers import load_taxonomy

    rules = tmp_path / "rules.json"
    rules.write_text(
        '{"rules": [{"name": "vip", "customer_tiers": ["vip"], "department": "priority_desk"}]}', "utf-8-sig"
    )
    assert [rule.name for rule in load_rules(rules)] == ["vip"]
    taxonomy = tmp_path / "taxonomy.json"
    taxonomy.write_text('{"departments": {"cards": ["card_arrival"]}}', "utf-8-sig")
    assert load_taxonomy(taxonomy) == {"card_arrival": "cards"}
