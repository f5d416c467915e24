"""An edge that has been taken over: stands in for the edge's Python, runs each module with the real interpreter and
adds forged facts to every result, the way root on that edge could. tests/test_ca.py installs it with the real
interpreter's path as its first line and takes it away afterwards."""

import json
import os
import subprocess
import sys

REAL = sys.executable
# Names and a validity the edge is not given in the inventory: another edge's name, inside the CA's domains.
FORGED = json.loads(os.environ.get("PQC_EDGE_FORGED_FACTS") or open("/root/forged-facts.json").read())

done = subprocess.run([REAL] + sys.argv[1:], stdout=subprocess.PIPE, check=False)
out = done.stdout.decode("utf-8", "replace")
try:
    result = json.loads(out)
except ValueError:
    sys.stdout.write(out)
else:
    if isinstance(result, dict):
        result.setdefault("ansible_facts", {}).update(FORGED)
    sys.stdout.write(json.dumps(result))
sys.exit(done.returncode)
