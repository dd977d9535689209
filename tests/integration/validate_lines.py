#!/usr/bin/python3
"""Validates every line of JSON-lines files against a JSON Schema (draft 2020-12).

usage: validate_lines.py [--result RESULT_SCHEMA] SCHEMA FILE...
With --result, each line's "result" object is also validated against RESULT_SCHEMA
(docs/schema/stock-result.schema.json: the stock worker's results, strictly).
Prints one line per invalid line (file:line: the first error, at its path) and exits 1
when any line is invalid, is not JSON, or a file has no lines; 0 otherwise, after
printing how many lines each file had. Needs python3-jsonschema (Debian's, under
/usr/bin/python3).
"""
import json
import sys

import jsonschema


def load_validator(path):
    with open(path, encoding="utf-8") as f:
        schema = json.load(f)
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def main(argv):
    result_validator = None
    if len(argv) >= 3 and argv[1] == "--result":
        result_validator = load_validator(argv[2])
        argv = argv[:1] + argv[3:]
    if len(argv) < 3:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    validator = load_validator(argv[1])
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
                errors = list(validator.iter_errors(line))
                if not errors and result_validator is not None:
                    errors = [e for e in result_validator.iter_errors(line.get("result"))]
                    for e in errors:
                        e.absolute_path.appendleft("result")
                for error in errors[:1]:
                    where = "/".join(str(p) for p in error.absolute_path) or "(the line)"
                    print(f"{path}:{number}: {where}: {error.message}")
                    bad += 1
        if count == 0:
            print(f"{path}: no lines")
            bad += 1
        else:
            print(f"{path}: {count} lines")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
