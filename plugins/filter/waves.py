# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pqc.edge contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The waves site.yml rolls out in: one canary host, then a quarter of the hosts at a time but at least 10.

site.yml's `serial` calls this filter. Play keywords are templated in the controller's main process before it forks a
worker for any task, and looking up a pqc.edge filter loads the collection's filter files in name order up to the one
that holds it. This file sorts last, so every worker starts with all of them loaded rather than loading them again for
each task it runs (about a tenth of the controller's CPU on a re-run; tests/unit/test_waves_filter.py keeps it last).
"""

from __future__ import annotations

import math
import re

from ansible.errors import AnsibleFilterError

from ansible_collections.pqc.edge.plugins.filter.inputs import quoted

CANARY = 1
SHARE = 0.25
FLOOR = 10
# A batch as Ansible's serial takes it: a number of hosts or a percentage of the play's hosts.
PERCENT = re.compile(r"^([1-9][0-9]?|100)%$")


def _batch_ok(batch):
    if isinstance(batch, bool):
        return False
    if isinstance(batch, int):
        return batch >= 1
    return isinstance(batch, str) and PERCENT.match(batch) is not None


def rollout_waves(host_count, serial=None):
    """The serial list for a play of `host_count` hosts: `serial` as given once every batch is valid, else the canary
    host followed by batches of a quarter of the hosts, never fewer than FLOOR (smaller batches only add passes)."""
    if isinstance(host_count, bool) or not isinstance(host_count, int) or host_count < 0:
        raise AnsibleFilterError("rollout_waves needs the number of hosts, not %s" % quoted(host_count))
    if serial is None:
        return [CANARY, max(FLOOR, int(math.ceil(host_count * SHARE)))]
    batches = serial if isinstance(serial, list) else [serial]
    wrong = [batch for batch in batches if not _batch_ok(batch)]
    if not batches or wrong:
        raise AnsibleFilterError("pqc_edge_serial is %s: each batch must be a number of hosts of at least 1 or a "
                                 "percentage from 1%% to 100%%, as in [1, 5] or [1, \"25%%\"]" % quoted(serial))
    return batches


class FilterModule(object):
    def filters(self):
        return {"rollout_waves": rollout_waves}
