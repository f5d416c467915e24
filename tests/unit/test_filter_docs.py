"""Every filter the collection exports has its documentation (what ansible-doc and Galaxy's importer read), with
each of its arguments documented under the name the Python function gives it."""

import importlib
import inspect
import pathlib

import pytest
import yaml

FILTERS = pathlib.Path(__file__).resolve().parents[2] / "plugins" / "filter"


def exported():
    for source in sorted(FILTERS.glob("*.py")):
        module = importlib.import_module("ansible_collections.pqc.edge.plugins.filter." + source.stem)
        for name, function in module.FilterModule().filters().items():
            yield name, function


@pytest.mark.parametrize("name, function", list(exported()), ids=lambda value: value if isinstance(value, str) else "")
def test_each_filter_is_documented_with_its_arguments(name, function):
    path = FILTERS / (name + ".yml")
    assert path.exists(), "%s has no documentation (%s)" % (name, path.name)
    text = yaml.safe_load(path.read_text())
    doc = text["DOCUMENTATION"]
    assert doc["name"] == name and doc["short_description"] and text["EXAMPLES"].strip() and "_value" in text["RETURN"]
    arguments = list(inspect.signature(function).parameters)[1:]
    assert list(doc["options"])[1:] == arguments, (list(doc["options"]), arguments)
    assert [a.strip() for a in doc.get("positional", "").split(",") if a.strip()] == arguments


def test_no_documentation_without_a_filter():
    names = set(name for name, dummy in exported())
    assert sorted(path.stem for path in FILTERS.glob("*.yml") if path.stem not in names) == []
