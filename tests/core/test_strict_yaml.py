import pytest
import yaml

from genlab.core.errors import ConfigError
from genlab.core.strict_yaml import load_yaml_file, load_yaml_text


def test_plain_yaml_matches_safe_load():
    text = "model: {name: vae, hidden: 16}\nbase: &b {lr: 0.1}\noptim:\n  default:\n    <<: *b\n    lr: 0.2\n"
    assert load_yaml_text(text) == yaml.safe_load(text)


@pytest.mark.parametrize("text", [
    "model: {name: vae}\ndata: {name: digits}\nmodel: {name: gan}\n",  # a whole section twice
    "model:\n  name: vae\n  hidden: 16\n  hidden: 32\n",  # an inner key twice
    "{a: 1, a: 2}",
])
def test_duplicate_keys_refused(text, tmp_path):
    with pytest.raises(yaml.YAMLError, match="duplicate key"):
        load_yaml_text(text)
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match="duplicate key") as info:
        load_yaml_file(path)
    assert "\n" not in str(info.value)


def test_non_utf8_file_is_one_line(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_bytes(b"model: {name: vae}\n# caf\xe9 in latin-1\n")
    with pytest.raises(ConfigError, match="not UTF-8") as info:
        load_yaml_file(path)
    assert "\n" not in str(info.value)


def test_python_tags_are_still_refused():
    # why: the duplicate-key loader must stay a SafeLoader; building objects from tags is never allowed
    with pytest.raises(yaml.YAMLError):
        load_yaml_text("x: !!python/object/apply:os.system ['echo pwned']\n")
