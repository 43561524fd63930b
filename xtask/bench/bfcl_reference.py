#!/usr/bin/env python3
# Python reference for `cargo xtask bench eval`: scores the same BFCL responses file with
# BFCL's own checker (the `bfcl-eval` package's ast_checker and its relevance rule) and writes
# one verdict per test case, plus on stdout as JSON the elapsed seconds (reading the data and
# responses, and checking) and the seconds spent in the checker alone.
#
# Only the checker is imported. Its module imports the model registry (every API handler and
# their SDKs) just to look up whether a model writes `.` as `_`; a small stand-in registry
# answers that instead, so the package can be installed without its dependencies.
import argparse
import json
import os
import sys
import time
import types

CATEGORIES = [
    "simple_python", "simple_java", "simple_javascript", "multiple", "parallel",
    "parallel_multiple", "irrelevance", "live_simple", "live_multiple", "live_parallel",
    "live_parallel_multiple", "live_irrelevance", "live_relevance",
]
MODEL = "agentune-bench"


class _Config:
    underscore_to_dot = False


def install_registry_stand_in(dots_as_underscores):
    _Config.underscore_to_dot = dots_as_underscores
    mod = types.ModuleType("bfcl_eval.constants.model_config")
    mod.MODEL_CONFIG_MAPPING = {MODEL: _Config()}
    sys.modules["bfcl_eval.constants.model_config"] = mod


def load_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--responses", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--version-prefix", default="BFCL_v4")
    ap.add_argument("--dots-as-underscores", action="store_true")
    a = ap.parse_args()

    install_registry_stand_in(a.dots_as_underscores)
    from bfcl_eval.constants.enums import Language
    from bfcl_eval.eval_checker.ast_eval.ast_checker import ast_checker
    from bfcl_eval.utils import is_empty_output, is_function_calling_format_output

    start = time.perf_counter()
    responses = {}
    for r in load_jsonl(a.responses):
        decoded = []
        for c in r["calls"]:
            args = c.get("arguments") or {}
            if isinstance(args, str):
                args = json.loads(args) if args.strip() else {}
            decoded.append({c["name"]: args})
        responses[r["id"]] = decoded

    verdicts = []
    check_s = 0.0
    for cat in CATEGORIES:
        qpath = os.path.join(a.data, f"{a.version_prefix}_{cat}.json")
        if not os.path.exists(qpath):
            continue
        entries = load_jsonl(qpath)
        if not any(e["id"] in responses for e in entries):
            continue
        answers = {}
        apath = os.path.join(a.data, "possible_answer", f"{a.version_prefix}_{cat}.json")
        if os.path.exists(apath):
            answers = {e["id"]: e["ground_truth"] for e in load_jsonl(apath)}
        if "java" in cat and "javascript" not in cat:
            lang = Language.JAVA
        elif "javascript" in cat:
            lang = Language.JAVASCRIPT
        else:
            lang = Language.PYTHON
        for e in entries:
            out = responses.get(e["id"])
            if out is None:
                verdicts.append({"id": e["id"], "valid": False, "error_type": "missing_response"})
                continue
            t0 = time.perf_counter()
            try:
                if "irrelevance" in cat or "relevance" in cat:
                    # BFCL's rule: a call is made when decoding succeeds and is not empty.
                    made = not is_empty_output(out)
                    valid = (not made) if "irrelevance" in cat else made
                    etype = None if valid else "relevance"
                elif not is_function_calling_format_output(out):
                    valid, etype = False, "ast_decoder:decoder_wrong_output_format"
                else:
                    r = ast_checker(e["function"], out, answers[e["id"]], lang, cat, MODEL)
                    valid, etype = r["valid"], r.get("error_type")
            except Exception as ex:  # the checker raises on inputs it does not handle
                valid, etype = False, f"exception:{type(ex).__name__}"
            check_s += time.perf_counter() - t0
            verdicts.append({"id": e["id"], "valid": bool(valid), "error_type": etype})
    elapsed = time.perf_counter() - start
    with open(a.out, "w", encoding="utf-8") as f:
        for v in verdicts:
            f.write(json.dumps(v) + "\n")
    print(json.dumps({"elapsed_s": elapsed, "check_s": check_s, "verdicts": len(verdicts)}))


if __name__ == "__main__":
    main()
