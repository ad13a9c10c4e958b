# SPDX-License-Identifier: GPL-2.0
"""Every JSON line the tests see is checked against the schema tcpwhy
ships, Documentation/tcpwhy.schema.json: a field added without the
schema, or of another type than it says, fails the test that saw it."""

import json
import os

import jsonschema

_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                     "Documentation", "tcpwhy.schema.json")
with open(_PATH) as _f:
    SCHEMA = json.load(_f)
jsonschema.Draft202012Validator.check_schema(SCHEMA)
_VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)
checked = 0


def valid(obj):
    """@obj, a decoded line, if the schema allows it; AssertionError
    naming the first violation otherwise."""
    global checked
    err = jsonschema.exceptions.best_match(_VALIDATOR.iter_errors(obj))
    if err is not None:
        raise AssertionError("JSON line against tcpwhy.schema.json: %s at "
                             "%s in %s" % (err.message,
                                           "/".join(map(str, err.path)),
                                           json.dumps(obj)[:600]))
    checked += 1
    return obj


def lines(text):
    """The JSON lines of @text, each checked."""
    return [valid(json.loads(x)) for x in text.splitlines() if x.strip()]
