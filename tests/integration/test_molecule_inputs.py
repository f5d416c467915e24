"""`molecule test -s <scenario>` run plain in the checkout: a missing image or archive stops the scenario in its
first step (dependency), before any container exists, with the make target that provides it."""

import os
import pathlib
import re
import subprocess

ROOT = pathlib.Path(__file__).resolve().parents[2]
# What the Makefile exports; a user running molecule by hand has none of it.
MAKEFILE_VARIABLES = ("ANSIBLE_CONFIG", "PQC_EDGE_IMAGE", "PQC_EDGE_IMAGE_BOOKWORM", "PQC_EDGE_SOURCE_CACHE",
                      "PQC_EDGE_BUILD_CACHE", "PQC_EDGE_OQS_SOURCES", "PQC_EDGE_LIBOQS_SHA256",
                      "PQC_EDGE_OQS_PROVIDER_SHA256")


def plain_env(**extra):
    env = {k: v for k, v in os.environ.items() if k not in MAKEFILE_VARIABLES}
    env.update(extra)
    return env


def test_molecule_test_stops_in_its_first_step_naming_the_missing_archive_and_its_make_target(tmp_path):
    empty_cache = tmp_path / "sources"
    empty_cache.mkdir()
    result = subprocess.run(["molecule", "test", "-s", "fleet"], cwd=ROOT, capture_output=True, text=True,
                            env=plain_env(PQC_EDGE_SOURCE_CACHE=str(empty_cache), NO_COLOR="1", COLUMNS="400"),
                            timeout=300, check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "%s/nginx-1.26.3.tar.gz (make source-cache)" % empty_cache in output, output
    # Molecule names each step it runs: "[fleet > dependency]" (or "fleet \u279c dependency" in colour).
    assert re.search(r"fleet (>|\u279c) dependency", output), output
    assert not re.search(r"fleet (>|\u279c) create", output), "molecule went on past the dependency step:\n" + output


def test_a_missing_debian_12_image_is_named_with_make_image_bookworm():
    result = subprocess.run([str(ROOT / "scripts" / "check-molecule-inputs.sh"), "static-openssl"],
                            capture_output=True, text=True, timeout=60, check=False,
                            env=plain_env(PQC_EDGE_IMAGE_BOOKWORM="pqc-edge/debian:no-such-tag"))
    assert result.returncode == 1
    assert "image pqc-edge/debian:no-such-tag (make image-bookworm)" in result.stderr, result.stderr


def test_with_its_inputs_in_the_makefile_places_plain_molecule_finds_them():
    """After make image and make source-cache (make integration runs both first)."""
    result = subprocess.run([str(ROOT / "scripts" / "check-molecule-inputs.sh"), "fleet"], capture_output=True,
                            text=True, timeout=60, check=False, env=plain_env())
    assert result.returncode == 0, result.stderr
    assert "fleet has its image and archives" in result.stdout
