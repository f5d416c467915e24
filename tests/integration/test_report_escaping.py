"""The report's HTML and Markdown with rows whose values a hostile host chose: rendered by Ansible's own template
module (as report.yml does), the HTML parsed, the Markdown table read cell by cell."""

import html.parser
import json
import os
import pathlib
import re
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
EVIL = '<script>alert("x")</script>'


def row(host):
    certificate = {"key_algorithm": "ML-DSA-44" + EVIL, "days_left": 30, "not_after": EVIL, "issuer": "CN=" + EVIL,
                   "trusted": True}
    server = {"server_name": "shop" + EVIL + "|x", "port": "8443" + EVIL, "served_by": "operator", "verdict": "hybrid",
              "pq_offer_group": "X25519MLKEM768", "classical_offer_group": EVIL, "http3_pq_offer_group": None,
              "why": "[click](javascript:alert(1)) *" + EVIL}
    traffic = {"tls_requests": 3, "quantum_safe_request_share": 1.0, "quantum_safe_connection_share": 1.0,
               "requests_by_group": {EVIL: 3}, "pq_capable_served_classical": 0, "pq_capable_requests": 3,
               "pq_capable_served_classical_by_server_name": {EVIL: 1}, "tls_versions": {"TLSv1.3" + EVIL: 1.0},
               "resumed_requests": 0}
    return {"host": host, "verdict": "PQ-ready", "error": None, "os": "Debian" + EVIL, "openssl": EVIL, "nginx": EVIL,
            "tls_library": "AWS-LC" + EVIL,
            "crypto_provider": EVIL, "configured_groups": EVIL, "supported_groups": [EVIL], "server_preference": EVIL,
            "pq_enforced": EVIL, "pq_offer_group": EVIL, "classical_offer_group": EVIL, "certificates": [certificate],
            "servers": [server], "traffic": traffic, "traffic_error": None}


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    variables = {"__pqc_edge_report_rows": [row("edge" + EVIL)], "__pqc_edge_report_generated": "2026-12-05T00:00:00Z",
                 "__pqc_edge_report_since": "24h" + EVIL,
                 "__pqc_edge_report_fleet_traffic": {"hosts": 1, "tls_requests": 3, "quantum_safe_request_share": 1.0,
                                                     "quantum_safe_connection_share": 1.0, "pq_capable_served_classical": 0,
                                                     "pq_capable_requests": 3, "resumed_requests": 0}}
    (out / "vars.json").write_text(json.dumps(variables))
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"))
    ansible = str(pathlib.Path(sys.executable).parent / "ansible")
    # As report.yml writes them: the Markdown with the template module, the HTML through pqc.edge.autoescaped.
    templates = ROOT / "playbooks" / "templates"
    html_args = {"dest": str(out / "pqc-report.html"), "content": "{{ lookup('pqc.edge.autoescaped', '%s', template_vars=%s) }}"
                 % (templates / "pqc-report.html.j2", "{" + ", ".join("'%s': %s" % (k, k) for k in variables) + "}")}
    for module, args in (("ansible.builtin.template", {"src": str(templates / "pqc-report.md.j2"), "dest": str(out / "pqc-report.md")}),
                         ("ansible.builtin.copy", html_args)):
        done = subprocess.run([ansible, "localhost", "-c", "local", "-m", module, "-a", json.dumps(args),
                               "-e", "@" + str(out / "vars.json")], capture_output=True, text=True, env=env, cwd=str(ROOT), check=False)
        assert done.returncode == 0, done.stdout + done.stderr
    return (out / "pqc-report.html").read_text(), (out / "pqc-report.md").read_text()


class Elements(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.text = [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)

    def handle_data(self, data):
        self.text.append(data)


def test_html_shows_what_hosts_said_as_text(rendered):
    parsed = Elements()
    parsed.feed(rendered[0])
    assert "script" not in parsed.tags
    text = "".join(parsed.text)
    assert ("edge" + EVIL) in text and ("shop" + EVIL + "|x") in text and ("8443" + EVIL) in text
    assert text.count(EVIL) >= 15, text.count(EVIL)


def cells(markdown, first):
    """The cells of the table row that starts with the given first cell's text, split on unescaped |."""
    for line in markdown.splitlines():
        parts = [p.strip() for p in re_split(line)]
        if len(parts) > 2 and parts[1].startswith(first):
            return parts[1:-1]
    raise AssertionError("no row for %s in\n%s" % (first, markdown))


def re_split(line):
    return re.split(r"(?<!\\)\|", line)


def test_markdown_cells_hold_what_hosts_said_without_html_or_extra_columns(rendered):
    markdown = rendered[1]
    assert "<script" not in markdown and not re.search(r"(?<!\\)\]\(", markdown)
    header = re_split(markdown.splitlines()[5])[1:-1]
    assert len(cells(markdown, "edge&lt;script")) == len(header) == 13
    servers = [line for line in markdown.splitlines() if "shop" in line]
    assert len(servers) == 1 and len(re_split(servers[0])[1:-1]) == 8, servers
    assert "shop&lt;script>alert(\"x\")&lt;/script>\\|x" in servers[0]
    assert "\\[click\\](javascript:alert(1)) \\*" in servers[0]
