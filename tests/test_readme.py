"""The README is the operator's manual: every configuration variable the settings object reads is documented there."""

from ephemeral_vault.settings import REPO_ROOT, Settings


def test_every_setting_is_documented_in_the_readme():
    readme = (REPO_ROOT / "README.md").read_text()
    missing = [name.upper() for name in Settings.model_fields if f"`{name.upper()}`" not in readme]
    assert missing == [], f"settings missing from README.md's configuration table: {missing}"


def test_readme_gives_the_two_commands():
    readme = (REPO_ROOT / "README.md").read_text()
    assert "make run" in readme and "make test" in readme
