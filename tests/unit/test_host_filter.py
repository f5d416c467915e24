"""pqc.edge.trusted_os: what a host says of its OS is checked before it names a controller file or a cache slot."""

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.pqc.edge.plugins.filter.host import trusted_os

DEBIAN = {"family": "Debian", "id": "debian", "major_version": "13", "architecture": "x86_64", "pkg_mgr": "apt"}


@pytest.mark.parametrize("os", [
    DEBIAN,
    dict(DEBIAN, id="ubuntu", major_version="24"),
    dict(DEBIAN, major_version="forky", architecture="aarch64"),
])
def test_a_plain_os_passes_unchanged(os):
    assert trusted_os(dict(os, extra="dropped")) == os


@pytest.mark.parametrize("field, value, named", [
    ("family", "/etc/pqc-edge/secret", "OS family /etc/pqc-edge/secret"),
    ("family", "../../../../root/vault", "OS family ../../../../root/vault"),
    ("family", "Redhat", "OS family Redhat"),
    ("id", "/root/vault", "OS id /root/vault"),
    ("id", "debian/../../x", "OS id debian/../../x"),
    ("id", "Debian", "OS id Debian"),
    ("major_version", "13/../../..", "OS version 13/../../.."),
    ("major_version", "", 'OS version ""'),
    ("architecture", "x86_64/../../evil", "architecture x86_64/../../evil"),
    ("pkg_mgr", None, "package manager null"),
])
def test_anything_else_fails_naming_the_value(field, value, named):
    with pytest.raises(AnsibleFilterError, match="edge-9 reported .*refused before it names any file") as caught:
        trusted_os(dict(DEBIAN, **{field: value}), "edge-9")
    assert named in str(caught.value)


@pytest.mark.parametrize("value", [None, "Debian", ["Debian"]])
def test_no_os_description_fails(value):
    with pytest.raises(AnsibleFilterError, match="reported no OS description"):
        trusted_os(value)
