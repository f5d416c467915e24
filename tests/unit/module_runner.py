"""Run a module's main() in-process with real arguments; its exit_json/fail_json become exceptions."""

from unittest import mock

import pytest
from ansible.module_utils import basic
from ansible.module_utils.testing import patch_module_args


class ModuleExit(Exception):
    def __init__(self, result):
        super(ModuleExit, self).__init__(result)
        self.result = result


class ModuleFail(ModuleExit):
    pass


def _exit(self, **result):
    raise ModuleExit(result)


def _fail(self, msg, **result):
    result["msg"] = msg
    raise ModuleFail(result)


def run_module(main, args, check_mode=False):
    """Return the module's result dict; raises ModuleFail (with .result) when the module fails."""
    if check_mode:
        args = dict(args, _ansible_check_mode=True)
    with patch_module_args(args), \
            mock.patch.object(basic.AnsibleModule, "exit_json", _exit), \
            mock.patch.object(basic.AnsibleModule, "fail_json", _fail):
        with pytest.raises(ModuleExit) as caught:
            main()
    if isinstance(caught.value, ModuleFail):
        raise caught.value
    return caught.value.result
