# SPDX-License-Identifier: GPL-2.0
"""Every JSON line the tests see is checked against the schema tcpwhy
ships, Documentation/tcpwhy.schema.json: a field added without the
schema, or of another type than it says, fails the test that saw it.

The check is this file's own evaluator of the part of JSON Schema that
file uses (type, const, enum, properties, required, additionalProperties,
propertyNames, items, allOf, anyOf, if/then, $ref, pattern, minimum,
maximum): the python3-jsonschema package takes milliseconds per line,
which the guests' emulated CPU multiplies past what a suite can spend.
The CLI suite checks that the two agree (schema_agrees_with_jsonschema)."""

import json
import os
import re

_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                     "Documentation", "tcpwhy.schema.json")
with open(_PATH) as _f:
    SCHEMA = json.load(_f)
checked = 0
# a sample of what passed, per type, for schema_agrees_with_jsonschema
seen = []
_per_type = {}

_TYPES = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "integer": lambda v: (isinstance(v, int) and not isinstance(v, bool)) or
    (isinstance(v, float) and v.is_integer()),
    "number": lambda v: isinstance(v, (int, float)) and
    not isinstance(v, bool),
}
_KNOWN = {"$schema", "$id", "$defs", "title", "description", "type", "const",
          "enum", "properties", "required", "additionalProperties",
          "propertyNames", "items", "allOf", "anyOf", "if", "then", "$ref",
          "pattern", "minimum", "maximum"}
_patterns = {}


def _ref(ref):
    node = SCHEMA
    for part in ref.lstrip("#/").split("/"):
        node = node[part]
    return node


def _eq(a, b):
    """JSON equality: true is not 1."""
    return type(a) is type(b) and a == b if isinstance(a, bool) or \
        isinstance(b, bool) else a == b


def errors(s, v, path=""):
    """The first way @v breaks schema @s, or None."""
    if s is True:
        return None
    if s is False:
        return "%s: not allowed" % path
    if "$ref" in s:
        e = errors(_ref(s["$ref"]), v, path)
        if e:
            return e
    t = s.get("type")
    if t is not None:
        ts = t if isinstance(t, list) else [t]
        if not any(_TYPES[x](v) for x in ts):
            return "%s: %r is not of type %s" % (path, v, t)
    if "const" in s and not _eq(s["const"], v):
        return "%s: %r is not %r" % (path, v, s["const"])
    if "enum" in s and not any(_eq(x, v) for x in s["enum"]):
        return "%s: %r is not one of %r" % (path, v, s["enum"])
    if _TYPES["number"](v):
        if "minimum" in s and v < s["minimum"]:
            return "%s: %r < %r" % (path, v, s["minimum"])
        if "maximum" in s and v > s["maximum"]:
            return "%s: %r > %r" % (path, v, s["maximum"])
    if "pattern" in s and isinstance(v, str):
        p = _patterns.get(s["pattern"])
        if p is None:
            # ECMA-262's $ is the end; Python's also before a last \n
            p = _patterns[s["pattern"]] = re.compile(
                re.sub(r"\$$", r"\\Z", s["pattern"]))
        if not p.search(v):
            return "%s: %r does not match %s" % (path, v, s["pattern"])
    if isinstance(v, dict):
        props = s.get("properties", {})
        for k in s.get("required", ()):
            if k not in v:
                return "%s: %r is required" % (path, k)
        for k, x in v.items():
            if "propertyNames" in s:
                e = errors(s["propertyNames"], k, path + "/" + k)
                if e:
                    return e
            if k in props:
                e = errors(props[k], x, path + "/" + k)
            elif "additionalProperties" in s:
                e = errors(s["additionalProperties"], x, path + "/" + k)
            else:
                e = None
            if e:
                return e
    if isinstance(v, list) and "items" in s:
        for i, x in enumerate(v):
            e = errors(s["items"], x, "%s/%d" % (path, i))
            if e:
                return e
    for sub in s.get("allOf", ()):
        e = errors(sub, v, path)
        if e:
            return e
    if "anyOf" in s:
        found = [errors(sub, v, path) for sub in s["anyOf"]]
        if all(found):
            return "%s: none of anyOf: %s" % (path, "; ".join(found))
    if "if" in s and errors(s["if"], v, path) is None and "then" in s:
        e = errors(s["then"], v, path)
        if e:
            return e
    return None


def _vet(s):
    """Every keyword of the schema is one errors() evaluates."""
    if isinstance(s, dict):
        unknown = set(s) - _KNOWN
        if unknown:
            raise KeyError("schema.py does not evaluate %s" % sorted(unknown))
        for k, x in s.items():
            if k in ("properties", "$defs"):
                for y in x.values():
                    _vet(y)
            elif k not in ("const", "enum", "required"):
                _vet(x)
    elif isinstance(s, list):
        for x in s:
            _vet(x)


_vet(SCHEMA)


def valid(obj):
    """@obj, a decoded line, if the schema allows it; AssertionError
    naming the first violation otherwise."""
    global checked
    e = errors(SCHEMA, obj)
    if e:
        raise AssertionError("JSON line against tcpwhy.schema.json: %s in "
                             "%s" % (e, json.dumps(obj)[:600]))
    checked += 1
    n = _per_type[obj["type"]] = _per_type.get(obj["type"], 0) + 1
    if n <= 200 or (n % 100 == 0 and len(seen) < 3000):
        seen.append(obj)
    return obj


def lines(text):
    """The JSON lines of @text, each checked."""
    return [valid(json.loads(x)) for x in text.splitlines() if x.strip()]
