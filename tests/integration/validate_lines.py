#!/usr/bin/python3
"""Validates every line of JSON-lines files against a JSON Schema (draft 2020-12).

usage: validate_lines.py SCHEMA FILE...
Prints one line per invalid line (file:line: the first error, at its path) and exits 1
when any line is invalid, is not JSON, or a file has no lines; 0 otherwise, after
printing how many lines each file had. Needs python3-jsonschema (Debian's, under
/usr/bin/python3).
"""
import json
import sys

import jsonschema


def main(argv):
    if len(argv) < 3:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    with open(argv[1], encoding="utf-8") as f:
        schema = json.load(f)
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    bad = 0
    for path in argv[2:]:
        count = 0
        with open(path, encoding="utf-8") as f:
            for number, text in enumerate(f, 1):
                count += 1
                try:
                    line = json.loads(text)
                except json.JSONDecodeError as e:
                    print(f"{path}:{number}: not JSON: {e}")
                    bad += 1
                    continue
                for error in validator.iter_errors(line):
                    where = "/".join(str(p) for p in error.absolute_path) or "(the line)"
                    print(f"{path}:{number}: {where}: {error.message}")
                    bad += 1
                    break
        if count == 0:
            print(f"{path}: no lines")
            bad += 1
        else:
            print(f"{path}: {count} lines")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
