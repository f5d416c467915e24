import pytest

from ansible_collections.pqc.edge.plugins.filter.sites import FilterModule, subject_alt_name


@pytest.mark.parametrize("name, expected", [
    ("app.example.org", "DNS:app.example.org"),
    ("*.example.org", "DNS:*.example.org"),
    ("localhost", "DNS:localhost"),
    ("127.0.0.1", "IP:127.0.0.1"),
    ("2001:db8::1", "IP:2001:db8::1"),
])
def test_subject_alt_name(name, expected):
    assert subject_alt_name(name) == expected


def test_filter_is_registered():
    assert FilterModule().filters()["subject_alt_name"] is subject_alt_name
