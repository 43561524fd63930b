#!/usr/bin/env python3
# Python reference for `cargo xtask data bench`: the same clean + dedup + split work as the
# Rust data crate (rules, exact duplicates, conflicts, MinHash-LSH near duplicates, query
# grouping with union-find, seeded group split), using datasketch's MinHash and MinHashLSH with
# the same parameters. Prints a JSON summary with the elapsed seconds on stdout.
import argparse
import json
import os
import time
import zlib

from datasketch import MinHash, MinHashLSH


def normalize(text):
    out = []
    space = False
    for ch in text:
        o = ord(ch)
        if 0xFF01 <= o <= 0xFF5E:
            ch = chr(o - 0xFEE0)
        elif o == 0x3000:
            ch = " "
        if ch.isspace():
            space = bool(out)
            continue
        if space:
            out.append(" ")
            space = False
        out.append(ch.lower())
    return "".join(out)


def dumps(v):
    return json.dumps(v, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def push_message(out, m):
    out.append(m["role"])
    out.append(": ")
    out.append(m.get("content") or "")
    for c in m.get("tool_calls") or []:
        out.append(" ")
        out.append(c["name"])
        out.append(dumps(c.get("arguments") or {}))
    out.append("\n")


def input_text(r):
    out = []
    for name in sorted(t["name"] for t in r.get("tools") or []):
        out.append(name)
        out.append("\n")
    if "steps" in r:
        for m in r.get("history") or []:
            push_message(out, m)
        out.append(r["query"])
    else:
        for m in r["messages"]:
            if m["role"] == "assistant":
                break
            push_message(out, m)
    return "".join(out)


def output_text(r):
    out = []
    if "steps" in r:
        for s in r["steps"]:
            st = s["step"]
            if st.get("thought"):
                out.append(st["thought"])
                out.append("\n")
            for c in st.get("calls") or []:
                out.append(c["name"])
                out.append(dumps(c.get("arguments") or {}))
                out.append("\n")
            if st["type"] == "final_answer":
                out.append(st["answer"])
            elif st["type"] == "give_up":
                out.append("<restart>" if st["restart"] else "<give up>")
    else:
        msgs = r["messages"]
        first = next((i for i, m in enumerate(msgs) if m["role"] == "assistant"), len(msgs))
        for m in msgs[first:]:
            push_message(out, m)
    return "".join(out)


def all_text(r):
    out = []
    for t in r.get("tools") or []:
        out.append(t["name"] + " " + (t.get("description") or ""))
        if t.get("parameters") is not None:
            out.append(dumps(t["parameters"]))
        out.append("\n")
    if "steps" in r:
        for m in r.get("history") or []:
            push_message(out, m)
        out.append(r["query"] + "\n")
        for s in r["steps"]:
            for o in s.get("observations") or []:
                out.append(o["content"] + "\n")
        out.append(output_text(r))
    else:
        for m in r["messages"]:
            push_message(out, m)
    return "".join(out)


def call_names(r):
    if "steps" in r:
        return [c["name"] for s in r["steps"] for c in s["step"].get("calls") or []]
    return [c["name"] for m in r["messages"] for c in m.get("tool_calls") or []]


def eval_only(r):
    return bool((r.get("provenance") or {}).get("eval_only"))


def rule_drop(r, max_length):
    tools = {t["name"] for t in r.get("tools") or []}
    if tools and any(n not in tools for n in call_names(r)):
        return "unknown_tool"
    if "steps" in r:
        steps = r["steps"]
        if not steps:
            return "structure"
        for i, s in enumerate(steps):
            st = s["step"]
            calls = st.get("calls") or []
            if st["type"] == "tool_calls" and not calls:
                return "structure"
            if len(s.get("observations") or []) != len(calls):
                return "structure"
            if st["type"] == "final_answer" and i + 1 != len(steps):
                return "structure"
        last = steps[-1]["step"]
        outcome = r["outcome"]
        ok = {
            "answered": last["type"] == "final_answer",
            "gave_up": last["type"] == "give_up" and not last["restart"],
            "restarted": last["type"] == "give_up" and last["restart"],
            "failed": True,
        }[outcome]
        if not ok:
            return "structure"
    elif not r["messages"]:
        return "structure"
    if not eval_only(r):
        if "steps" in r:
            last = r["steps"][-1]["step"]
            answers = [last["answer"]] if last["type"] == "final_answer" else []
        else:
            msgs = r["messages"]
            answers = [m.get("content") for m in msgs if m["role"] == "assistant" and not m.get("tool_calls")]
            if not answers and not any(m["role"] == "assistant" for m in msgs):
                answers = [None]
        for a in answers:
            if a is None or not a.strip():
                return "empty_answer"
    if max_length > 0 and len(all_text(r)) > max_length:
        return "over_length"
    return None


def verified(r):
    checks = [c for c in r.get("checks") or [] if c["check"] == "execution"]
    return bool(checks) and all(c["passed"] for c in checks)


def shingles(text, n):
    if not text:
        return []
    if len(text) <= n:
        return [text.encode("utf-8")]
    return list({text[i:i + n] for i in range(len(text) - n + 1)})


def minhash(text, n, num_perm):
    m = MinHash(num_perm=num_perm, seed=1)
    sh = shingles(text, n)
    if sh:
        m.update_batch([s if isinstance(s, bytes) else s.encode("utf-8") for s in sh])
    return m


def split_text(r):
    g = r.get("group") or ""
    if "messages" in r and g.startswith("query:"):
        return normalize(g[len("query:"):])
    if "steps" in r:
        return normalize(r["query"])
    q = next((m.get("content") or "" for m in r["messages"] if m["role"] == "user"), "")
    return normalize(q)


class UnionFind:
    def __init__(self, n):
        self.parent = list(range(n))

    def find(self, x):
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def union(self, a, b):
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--input", required=True)
    ap.add_argument("--output-dir", required=True)
    ap.add_argument("--num-perm", type=int, default=128)
    ap.add_argument("--bands", type=int, default=32)
    ap.add_argument("--ngram", type=int, default=5)
    ap.add_argument("--threshold", type=float, default=0.8)
    ap.add_argument("--split-similarity", type=float, default=0.7)
    ap.add_argument("--split-bands", type=int, default=20)
    ap.add_argument("--split-rows", type=int, default=6)
    ap.add_argument("--validation", type=float, default=0.05)
    ap.add_argument("--test", type=float, default=0.05)
    ap.add_argument("--max-length", type=int, default=32000)
    ap.add_argument("--seed", type=int, default=42)
    a = ap.parse_args()
    rows = a.num_perm // a.bands
    start = time.perf_counter()

    with open(a.input, encoding="utf-8") as f:
        records = [json.loads(line) for line in f if line.strip()]
    dropped = {}

    def drop(reason):
        dropped[reason] = dropped.get(reason, 0) + 1

    alive = []
    for r in records:
        why = rule_drop(r, a.max_length)
        if why:
            drop(why)
        else:
            alive.append(r)
    texts = [(normalize(input_text(r)), normalize(output_text(r))) for r in alive]
    live = [True] * len(alive)
    first = {}
    for i, key in enumerate(texts):
        if key in first:
            live[i] = False
            drop("exact_duplicate")
        else:
            first[key] = i
    groups = {}
    for i in range(len(alive)):
        if live[i]:
            groups.setdefault(texts[i][0], []).append(i)
    for g in groups.values():
        if len(g) < 2 or all(texts[i][1] == texts[g[0]][1] for i in g):
            continue
        ver = [i for i in g if verified(alive[i])]
        keep = ver[0] if ver and all(texts[i][1] == texts[ver[0]][1] for i in ver) else None
        for i in g:
            if i != keep:
                live[i] = False
                drop("conflict")
    lsh = MinHashLSH(threshold=a.threshold, num_perm=a.num_perm, params=(a.bands, rows))
    sigs = {}
    near_pairs = []
    for i in range(len(alive)):
        if not live[i]:
            continue
        m = minhash(texts[i][0] + " " + texts[i][1], a.ngram, a.num_perm)
        hit = next((int(c) for c in lsh.query(m) if sigs[int(c)].jaccard(m) >= a.threshold), None)
        if hit is not None:
            live[i] = False
            drop("near_duplicate")
            near_pairs.append((alive[i].get("id"), alive[hit].get("id")))
        else:
            sigs[i] = m
            lsh.insert(str(i), m)
    kept = [r for r, ok in zip(alive, live) if ok]

    # Split by query group.
    qtexts = [split_text(r) for r in kept]
    lsh = MinHashLSH(threshold=a.split_similarity, num_perm=a.num_perm, params=(a.split_bands, a.split_rows))
    uf = UnionFind(len(kept))
    sigs = []
    for i, t in enumerate(qtexts):
        m = minhash(t, a.ngram, a.num_perm)
        for c in lsh.query(m):
            c = int(c)
            if uf.find(c) != uf.find(i) and sigs[c].jaccard(m) >= a.split_similarity:
                uf.union(c, i)
        sigs.append(m)
        lsh.insert(str(i), m)
    members = {}
    for i in range(len(kept)):
        members.setdefault(uf.find(i), []).append(i)
    n = len(kept)
    test_n, val_n = round(n * a.test), round(n * a.validation)
    split = ["train"] * n
    counts = {"train": 0, "validation": 0, "test": 0}
    free = []
    for rep, ids in members.items():
        if any(eval_only(kept[i]) for i in ids):
            for i in ids:
                split[i] = "test"
            counts["test"] += len(ids)
        else:
            free.append((zlib.crc32(qtexts[rep].encode("utf-8")) ^ a.seed, rep))
    free.sort()
    for _, rep in free:
        ids = members[rep]
        s = "test" if counts["test"] < test_n else "validation" if counts["validation"] < val_n else "train"
        for i in ids:
            split[i] = s
        counts[s] += len(ids)
    os.makedirs(a.output_dir, exist_ok=True)
    for name in ("train", "validation", "test"):
        path = os.path.join(a.output_dir, name + ".jsonl")
        with open(path + ".tmp", "w", encoding="utf-8") as f:
            for r, s in zip(kept, split):
                if s == name:
                    f.write(json.dumps(r, ensure_ascii=False))
                    f.write("\n")
        os.replace(path + ".tmp", path)
    elapsed = time.perf_counter() - start
    # Which record each near duplicate was matched with, for the precision check (untimed).
    with open(os.path.join(a.output_dir, "near_pairs.jsonl"), "w", encoding="utf-8") as f:
        for dropped_id, kept_id in near_pairs:
            f.write(json.dumps([dropped_id, kept_id]) + "\n")
    print(json.dumps({
        "seconds": elapsed,
        "input": len(records),
        "kept": len(kept),
        "dropped": dropped,
        "groups": len(members),
        "splits": counts,
    }))


if __name__ == "__main__":
    main()
