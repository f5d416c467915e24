"""pqc.edge.rollout_waves: the batches of site.yml, and the file order that lets the controller load every filter once."""

import pathlib

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.pqc.edge.plugins.filter.waves import rollout_waves

ROOT = pathlib.Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("hosts, waves", [
    (0, [1, 10]),
    (1, [1, 10]),
    (10, [1, 10]),
    (40, [1, 10]),
    (41, [1, 11]),
    (100, [1, 25]),
    (1001, [1, 251]),
])
def test_one_canary_then_a_quarter_but_at_least_ten(hosts, waves):
    assert rollout_waves(hosts) == waves


@pytest.mark.parametrize("serial, waves", [
    ([1, 5], [1, 5]),
    ([1, "25%"], [1, "25%"]),
    (3, [3]),
    ("100%", ["100%"]),
])
def test_the_operators_batches_are_kept(serial, waves):
    assert rollout_waves(7, serial) == waves


@pytest.mark.parametrize("serial", [[], [0], [1, -2], ["0%"], ["101%"], ["25"], [1.5], [True], "all", {"a": 1}, [None]])
def test_a_wrong_batch_is_refused_by_name(serial):
    with pytest.raises(AnsibleFilterError, match="pqc_edge_serial is"):
        rollout_waves(7, serial)


@pytest.mark.parametrize("hosts", [-1, "10", None, True])
def test_the_host_count_must_be_a_count(hosts):
    with pytest.raises(AnsibleFilterError, match="number of hosts"):
        rollout_waves(hosts)


def test_site_yml_takes_its_serial_from_this_filter():
    play = yaml.safe_load((ROOT / "playbooks" / "site.yml").read_text())[0]
    assert "pqc.edge.rollout_waves" in play["serial"]


def test_the_file_of_this_filter_sorts_last_so_the_controller_loads_every_filter_before_it_forks():
    # Ansible finds pqc.edge.rollout_waves by loading the filter files in sorted order until one holds it.
    files = sorted(path.name for path in (ROOT / "plugins" / "filter").glob("*.py") if path.name != "__init__.py")
    assert files[-1] == "waves.py", files
