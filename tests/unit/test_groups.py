import pytest

from ansible_collections.pqc.edge.plugins.module_utils import _groups


def test_every_codepoint_and_spelling_is_unique():
    codepoints = [g.codepoint for g in _groups.GROUPS]
    assert len(codepoints) == len(set(codepoints))
    spellings = [s for g in _groups.GROUPS for s in set(x.lower() for x in _groups.spellings(g))]
    assert len(spellings) == len(set(spellings))


@pytest.mark.parametrize("name, codepoint, kind", [
    ("X25519MLKEM768", 0x11EC, "hybrid"),
    ("x25519mlkem768", 0x11EC, "hybrid"),
    ("SecP256r1MLKEM768", 0x11EB, "hybrid"),
    ("SecP384r1MLKEM1024", 0x11ED, "hybrid"),
    ("MLKEM768", 0x0201, "pq"),
    ("prime256v1", 0x0017, "classical"),
    ("P-256", 0x0017, "classical"),
    ("X25519", 0x001D, "classical"),
    ("p384_mlkem768", 0x2F4C, "hybrid"),
    ("X25519Kyber768Draft00", 0x6399, "hybrid"),
])
def test_lookup_by_any_spelling(name, codepoint, kind):
    group = _groups.by_name(name)
    assert (group.codepoint, group.kind) == (codepoint, kind)


def test_unknown_names_are_all_named():
    with pytest.raises(_groups.UnknownGroupError) as err:
        _groups.resolve(["X25519", "X25519MLKEM999", "bogus"])
    assert err.value.names == ["X25519MLKEM999", "bogus"]
    assert "X25519MLKEM999, bogus" in str(err.value)


@pytest.mark.parametrize("value", [0x0A0A, 0x1A1A, 0xCACA, 0xFAFA])
def test_grease_values(value):
    assert _groups.is_grease(value)


@pytest.mark.parametrize("value", [0x0A1A, 0x11EC, 0x001D, 0xAAAB, 0x0B0B])
def test_not_grease(value):
    assert not _groups.is_grease(value)


@pytest.mark.parametrize("token, name, kind", [
    ("0x11ec", "X25519MLKEM768", "hybrid"),
    ("0x11EB", "SecP256r1MLKEM768", "hybrid"),
    ("X25519", "x25519", "classical"),
    ("prime256v1", "secp256r1", "classical"),
    ("0xcaca", "GREASE", "grease"),
    ("0x1234", None, "unknown"),
    ("0xzz", None, "unknown"),
    ("nonsense", None, "unknown"),
])
def test_describe_what_nginx_prints(token, name, kind):
    info = _groups.describe(token)
    assert (info["name"], info["kind"]) == (name, kind)
    assert info["raw"] == token


def test_quantum_safe_kinds():
    assert _groups.is_quantum_safe("hybrid") and _groups.is_quantum_safe("pq")
    assert not _groups.is_quantum_safe("classical") and not _groups.is_quantum_safe("unknown")
