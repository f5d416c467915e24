"""The built collection through galaxy-importer, the tool Ansible Galaxy and Automation Hub run on every upload: it must
import with no ERROR logged (its ansible-test step is off: it needs containers of its own).

galaxy-importer lives in a virtualenv of its own under .cache, so that its pins do not move the test toolchain's."""

import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
VERSION = "0.4.44"
VENV = ROOT / ".cache" / ("galaxy-importer-" + VERSION)


def importer():
    python = VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "galaxy-importer==" + VERSION], check=True, timeout=600)
    return python


def test_the_built_collection_imports_without_an_error(tmp_path):
    python = importer()
    ansible_galaxy = pathlib.Path(sys.executable).parent / "ansible-galaxy"
    subprocess.run([str(ansible_galaxy), "collection", "build", "--force", "--output-path", str(tmp_path), str(ROOT)],
                   check=True, capture_output=True, text=True)
    tarball = next(tmp_path.glob("pqc-edge-*.tar.gz"))
    config = tmp_path / "galaxy-importer.cfg"
    config.write_text("[galaxy-importer]\nRUN_ANSIBLE_TEST = False\nRUN_ANSIBLE_LINT = True\nLOG_LEVEL_MAIN = INFO\n")
    env = {"PATH": "%s:/usr/bin:/bin" % python.parent, "HOME": str(tmp_path), "GALAXY_IMPORTER_CONFIG": str(config)}
    done = subprocess.run([str(python), "-m", "galaxy_importer.main", str(tarball)], capture_output=True, text=True,
                          env=env, cwd=str(tmp_path), timeout=900, check=False)
    log = done.stdout + done.stderr
    assert done.returncode == 0, log[-4000:]
    assert "Importer processing completed successfully" in log, log[-4000:]
    errors = [line for line in log.splitlines() if "ERROR" in line]
    assert errors == [], "\n".join(errors)
    # The docs of every filter were read (a filter without them is logged as an error, above).
    assert "Loading filter probe_plan" in log and "Loading role nginx" in log, log[-4000:]
