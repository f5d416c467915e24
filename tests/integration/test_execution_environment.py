"""execution-environment.yml as ansible-builder reads it: the build context it makes carries the collection tarball
and the pinned ansible-core and ansible-runner, and the installed collection declares its own Python and system
needs. (Building the image itself needs its base image from a registry, which these machines do not reach.)"""

import pathlib
import shutil
import subprocess
import sys

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
BUILDER = str(pathlib.Path(sys.executable).parent / "ansible-builder")


def run(argv, cwd):
    result = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_the_build_context_carries_the_collection_and_the_pinned_engine(tmp_path):
    version = yaml.safe_load((ROOT / "galaxy.yml").read_text())["version"]
    run(["ansible-galaxy", "collection", "build", "--output-path", str(tmp_path), str(ROOT)], cwd=tmp_path)
    tarball = tmp_path / ("pqc-edge-%s.tar.gz" % version)
    assert tarball.exists()
    shutil.copy(ROOT / "execution-environment.yml", tmp_path)
    run([BUILDER, "create", "-f", "execution-environment.yml",
         "--context", "context", "--output-filename", "Containerfile"], cwd=tmp_path)
    context = tmp_path / "context"
    containerfile = (context / "Containerfile").read_text()
    assert (context / "_build" / "collections" / tarball.name).read_bytes() == tarball.read_bytes()
    assert "ansible-core==2.19.14" in containerfile and "ansible-runner==2.4.3" in containerfile
    requirements = yaml.safe_load((context / "_build" / "requirements.yml").read_text())
    assert requirements["collections"] == [{"name": "/build/collections/%s" % tarball.name, "type": "file"}]


def test_the_installed_collection_declares_what_the_controller_needs(tmp_path):
    version = yaml.safe_load((ROOT / "galaxy.yml").read_text())["version"]
    run(["ansible-galaxy", "collection", "build", "--output-path", str(tmp_path), str(ROOT)], cwd=tmp_path)
    # --force: where the configured collections path has pqc.edge already (the checkout), it would install nothing.
    run(["ansible-galaxy", "collection", "install", "--offline", "--no-deps", "--force", "-p", str(tmp_path / "collections"),
         str(tmp_path / ("pqc-edge-%s.tar.gz" % version))], cwd=tmp_path)
    found = yaml.safe_load(run([BUILDER, "introspect", str(tmp_path / "collections")], cwd=tmp_path))
    assert found["python"] == ["cryptography>=41  # from collection pqc.edge"]
    assert found["system"] == ["openssl [platform:rpm]  # from collection pqc.edge",
                               "openssl [platform:dpkg]  # from collection pqc.edge"]
