# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pqc.edge contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: autoescaped
author: pqc.edge contributors (@pqc-edge)
version_added: 0.1.0
short_description: Render an HTML template in which every expression is escaped
description:
  - Renders a Jinja template with autoescaping on, so that every value printed into it comes out as HTML text, whatever
    it holds. The report prints values that managed hosts chose (server names, ports, versions); a host that has been
    taken over must not be able to put markup or script into the page.
  - Only the variables given in O(template_vars) are visible to the template, and only Jinja's own filters and tests;
    an undefined variable is an error.
options:
  _terms:
    description: The template, found as M(ansible.builtin.template) finds its C(src) (a C(templates) directory first).
    type: list
    elements: str
    required: true
  template_vars:
    description: The variables the template reads.
    type: dict
    default: {}
"""

EXAMPLES = r"""
- name: Write the HTML report
  ansible.builtin.copy:
    content: "{{ lookup('pqc.edge.autoescaped', 'report.html.j2', template_vars={'rows': rows}) }}"
    dest: /tmp/report.html
    mode: "0644"
"""

RETURN = r"""
_raw:
  description: The rendered text of each template.
  type: list
  elements: str
"""

import jinja2

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        data = self.get_option("template_vars")
        environment = jinja2.Environment(autoescape=True, trim_blocks=True, undefined=jinja2.StrictUndefined)
        rendered = []
        for term in terms:
            path = self.find_file_in_search_path(variables, "templates", term)
            if path is None:
                raise AnsibleLookupError("template %s not found" % term)
            try:
                with open(path, encoding="utf-8") as handle:
                    rendered.append(environment.from_string(handle.read()).render(**data))
            except (OSError, jinja2.TemplateError) as error:
                raise AnsibleLookupError("%s: %s" % (path, error))
        return rendered
