#!/usr/bin/env python3
"""Read models/catalog.json for install.sh (standard library only).

  catalog.py CATALOG names                 every model name, one a line
  catalog.py CATALOG get NAME KEY[.KEY...] one field (JSON objects are printed as JSON)
  catalog.py CATALOG files NAME            the model's file names, one a line
  catalog.py CATALOG verify NAME DIR       exit 1 unless DIR holds exactly the model's files,
                                           each with its catalogued size and sha256
"""

import hashlib
import json
import os
import sys


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def model(catalog, name):
    for m in catalog["models"]:
        if m["name"] == name:
            return m
    sys.exit(f"catalog: no model {name!r}; known: {', '.join(m['name'] for m in catalog['models'])}")


def verify(entry, directory):
    problems = []
    want = {f["name"]: f for f in entry["files"]}
    have = set()
    for root, _, files in os.walk(directory):
        for f in files:
            have.add(os.path.relpath(os.path.join(root, f), directory).replace(os.sep, "/"))
    for name in sorted(have - set(want)):
        problems.append(f"{name}: not in the catalogue")
    for name, f in sorted(want.items()):
        path = os.path.join(directory, name)
        if name not in have:
            problems.append(f"{name}: missing")
            continue
        size, digest = os.path.getsize(path), sha256(path)
        if size != f["size"] or digest != f["sha256"]:
            problems.append(f"{name}: size {size} sha256 {digest}, catalogue says size {f['size']} sha256 {f['sha256']}")
    return problems


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    with open(sys.argv[1], encoding="utf-8") as f:
        catalog = json.load(f)
    cmd, args = sys.argv[2], sys.argv[3:]
    if cmd == "names":
        print("\n".join(m["name"] for m in catalog["models"]))
    elif cmd == "get" and len(args) == 2:
        value = model(catalog, args[0])
        for key in args[1].split("."):
            value = value[key]
        print(json.dumps(value, sort_keys=True) if isinstance(value, (dict, list)) else value)
    elif cmd == "files" and len(args) == 1:
        print("\n".join(f["name"] for f in model(catalog, args[0])["files"]))
    elif cmd == "verify" and len(args) == 2:
        problems = verify(model(catalog, args[0]), args[1])
        for p in problems:
            print(f"{args[1]}/{p}", file=sys.stderr)
        sys.exit(1 if problems else 0)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
