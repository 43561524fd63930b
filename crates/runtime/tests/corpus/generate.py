#!/usr/bin/env python3
# Writes the reply corpus (one JSONL file per shipped template): realistic model replies,
# correct, slightly malformed and badly malformed, each with the step expected in strict and in
# lenient mode (or an expected error). The canonical forms are written here independently of the
# Rust renderer, so the corpus test checks the two against each other.
# Usage: python3 crates/runtime/tests/corpus/generate.py   (then review the diff)
import json
import os

OUT = os.path.dirname(os.path.abspath(__file__))


def dumps(v):
    return json.dumps(v, ensure_ascii=False, sort_keys=True)


def call(name, args, id=None):
    c = {"name": name, "arguments": args}
    if id:
        c["id"] = id
    return c


def tc(thought, *calls):
    s = {"type": "tool_calls", "calls": list(calls)}
    if thought:
        s["thought"] = thought
    return s


def fa(thought, answer):
    s = {"type": "final_answer", "answer": answer}
    if thought:
        s["thought"] = thought
    return s


def gu(thought, restart):
    s = {"type": "give_up", "restart": restart}
    if thought:
        s["thought"] = thought
    return s


EN = [
    tc("I need the weather forecast for Paris tomorrow.", call("get_weather", {"city": "Paris", "date": "2026-12-02"})),
    tc("Convert the price first.", call("convert_currency", {"amount": 250, "from": "USD", "to": "EUR"})),
    tc(None, call("calculator", {"expression": "(17.5 * 4) - 3 / 2"})),
    tc("Search nearby places that are open late.", call("search_places", {"query": "ramen", "near": {"lat": 35.6895, "lon": 139.6917}, "filters": {"open_now": True, "max_results": 5}})),
    tc("The user wants a note saved.\nI will store it under a clear name.", call("save_note", {"name": "trip-plan.md", "text": "Day 1: Louvre\nDay 2: Orsay \"early\""})),
    tc("Look up the fact in the knowledge base.", call("lookup", {"topic": "Great Wall of China length", "lang": "en"})),
    tc("Unit conversion is needed.", call("convert_units", {"value": 5.5, "from_unit": "mile", "to_unit": "km"})),
    tc("Check the date arithmetic.", call("date_add", {"date": "2026-02-27", "days": 3, "tags": ["leap", "check"], "strict": None})),
    fa("I have the forecast.", "Tomorrow in Paris: light rain, 6 to 11 °C. Take an umbrella."),
    fa("The calculation is done.", "The result is 68.5."),
    fa(None, "Hello! I can check weather, convert units and currencies, and look up facts for you."),
    fa("All data gathered.", "Here is your plan:\n1. Louvre in the morning\n2. Lunch near Orsay\n3. Seine cruise at 18:00"),
    tc("Emoji and accents must survive.", call("send_message", {"to": "José", "text": "Bon voyage 🎉 — à bientôt"})),
    tc("No arguments needed.", call("get_time", {})),
]

ZH = [
    tc("我需要查询明天北京的天气。", call("get_weather", {"city": "北京", "date": "2026-12-02"})),
    tc("先把价格换算成人民币。", call("convert_currency", {"amount": 99.5, "from": "USD", "to": "CNY"})),
    tc(None, call("calculator", {"expression": "3 * (7 + 8)"})),
    tc("搜索附近评分高的火锅店。", call("search_places", {"query": "火锅", "city": "成都", "filters": {"min_rating": 4.5, "open_now": True}})),
    tc("用户想保存一条笔记。\n文件名要清楚。", call("save_note", {"name": "行程.md", "text": "第一天：故宫\n第二天：长城"})),
    tc("查一下知识库。", call("lookup", {"topic": "长江的长度"})),
    tc("需要单位换算。", call("convert_units", {"value": 10, "from_unit": "斤", "to_unit": "kg"})),
    tc("计算日期。", call("date_add", {"date": "2026-12-30", "days": 5, "labels": ["跨年", None]})),
    fa("天气信息已经拿到了。", "明天北京多云，气温零下3到5摄氏度，注意保暖。"),
    fa("计算完成。", "结果是45。"),
    fa(None, "你好！我可以帮你查天气、换算单位和货币、查询知识。"),
    fa("信息齐全。", "行程安排如下：\n1. 上午参观故宫\n2. 下午去景山公园"),
    tc("表情符号也要保留。", call("send_message", {"to": "小王", "text": "生日快乐 🎂"})),
    tc("不需要参数。", call("get_time", {})),
]


def write(name, records):
    path = os.path.join(OUT, name + ".jsonl")
    kinds = {}
    for i, r in enumerate(records):
        r["id"] = "%s-%03d" % (name, i + 1)
        kinds[r["kind"]] = kinds.get(r["kind"], 0) + 1
    with open(path + ".tmp", "w", encoding="utf-8") as f:
        for r in records:
            ordered = {k: r[k] for k in ["id", "kind", "note", "reply", "message", "strict", "lenient"] if k in r}
            f.write(json.dumps(ordered, ensure_ascii=False) + "\n")
    os.replace(path + ".tmp", path)
    print(name, len(records), kinds)


def err(contains=""):
    return {"error": contains}


def rec(kind, note, reply, strict, lenient, message=False):
    r = {"kind": kind, "note": note, "strict": strict, "lenient": lenient}
    r["message" if message else "reply"] = reply
    return r


# ---------------------------------------------------------------- labeled (ReAct, ToolLLaMA)

class Labeled:
    def __init__(self, name, labels, colon, finish):
        self.name = name
        self.t, self.a, self.ai, self.o, self.f = labels
        self.colon = colon
        self.finish = finish  # ToolLLaMA Finish action

    def L(self, label):
        return label + self.colon

    def render(self, s):
        out = ""
        if s.get("thought"):
            out += self.L(self.t) + s["thought"] + "\n"
        if s["type"] == "tool_calls":
            c = s["calls"][0]
            out += self.L(self.a) + c["name"] + "\n" + self.L(self.ai) + dumps(c["arguments"])
        elif s["type"] == "final_answer":
            if self.finish:
                out += self.L(self.a) + "Finish\n" + self.L(self.ai) + '{"return_type": "give_answer", "final_answer": ' + json.dumps(s["answer"], ensure_ascii=False) + "}"
            else:
                out += self.L(self.f) + s["answer"]
        else:
            out += self.L(self.a) + "Finish\n" + self.L(self.ai) + '{"return_type": "give_up_and_restart"}'
        return out

    def corpus(self, bases):
        if self.finish:
            bases = bases + [gu("The weather service keeps failing; a fresh start may help.", True), gu(None, True)] if self.colon == ": " else bases + [gu("工具一直报错，重新开始。", True), gu(None, True)]
        R = []
        for s in bases:
            R.append(rec("correct", "canonical", self.render(s), s, s))
        calls = [s for s in bases if s["type"] == "tool_calls"]
        finals = [s for s in bases if s["type"] != "tool_calls"]
        other_colon = "：" if self.colon == ": " else ": "
        S = lambda note, text, lenient_step: R.append(rec("slight", note, text, err(), lenient_step))
        for i, s in enumerate(bases):
            text = self.render(s)
            S("trailing newline", text + "\n", s)
            if i % 2 == 0:
                S("code fence around the reply", "```\n" + text + "\n```", s)
            else:
                swapped = text
                for lab in (self.t, self.a, self.ai, self.f):
                    if lab:
                        swapped = swapped.replace(self.L(lab), lab + other_colon)
                S("other colon after labels", swapped, s)
        for i, s in enumerate(calls):
            text = self.render(s)
            c = s["calls"][0]
            j = dumps(c["arguments"])
            variants = [
                ("lowercase labels", text.replace(self.L(self.t), self.t.lower() + self.colon).replace(self.L(self.ai), self.ai.lower() + self.colon).replace(self.L(self.a), self.a.lower() + self.colon)),
                ("single-quoted JSON", text.replace(j, j.replace('"', "'")) if "'" not in j and "\\" not in j else None),
                ("trailing comma in JSON", text.replace(j, j[:-1] + ",}") if j != "{}" else None),
                ("invented observation", text + "\n" + self.L(self.o) + "{\"ok\": true}\n" + self.L(self.t) + "done"),
                ("compact JSON", text.replace(j, json.dumps(c["arguments"], ensure_ascii=False, sort_keys=True, separators=(",", ":"))) if c["arguments"] else None),
                ("text after the action input", text + "  (waiting for the result)"),
                ("arguments in a json fence", text.replace(j, "\n```json\n" + j + "\n```")),
                ("bold labels", text.replace(self.L(self.a), "**" + self.a + ":** ")),
            ]
            for note, v in variants[i % len(variants):] + variants[: i % len(variants)][:2]:
                if v is not None and v != text:
                    S(note, v, s)
            if s.get("thought") and "\n" not in s["thought"]:
                S("thought without its label", text.replace(self.L(self.t), "", 1), s)
        # Two actions in one reply: lenient keeps the first.
        a, b = calls[0], calls[1]
        two = self.render(a) + "\n" + self.render(b).split("\n", 1)[1]
        S("two actions in one reply", two, a)
        B = lambda note, text, contains="": R.append(rec("bad", note, text, err(contains), err(contains)))
        B("prose without labels", "I think it will probably rain tomorrow, so take an umbrella.", "label")
        B("empty reply", "", "")
        B("thought only", self.L(self.t) + "Let me think about this.", "no action")
        B("input that is not JSON", self.L(self.t) + "x\n" + self.L(self.a) + "get_weather\n" + self.L(self.ai) + "Paris tomorrow", "JSON")
        B("truncated JSON", self.L(self.a) + "get_weather\n" + self.L(self.ai) + '{"city": "Par', "")
        B("input before action", self.L(self.ai) + '{"city": "Paris"}\n' + self.L(self.a) + "get_weather", "")
        B("empty action", self.L(self.t) + "x\n" + self.L(self.a) + "\n" + self.L(self.ai) + "{}", "tool name")
        B("tool name with spaces", self.L(self.a) + "get the weather\n" + self.L(self.ai) + "{}", "tool name")
        B("JSON array as input", self.L(self.a) + "get_weather\n" + self.L(self.ai) + '["Paris"]', "")
        B("unbalanced braces", self.L(self.a) + "calculator\n" + self.L(self.ai) + '{"expression": "1+1"', "")
        if self.finish:
            B("unknown return type", self.L(self.a) + "Finish\n" + self.L(self.ai) + '{"return_type": "maybe"}', "return_type")
            B("give_answer without an answer", self.L(self.a) + "Finish\n" + self.L(self.ai) + '{"return_type": "give_answer"}', "final_answer")
            B("finish without arguments object", self.L(self.a) + "Finish\n" + self.L(self.ai) + "give_answer", "")
        else:
            B("empty final answer", self.L(self.t) + "done\n" + self.L(self.f), "empty")
            B("observation only", self.L(self.o) + "sunny", "")
        write(self.name, R)


Labeled("react", ("Thought", "Action", "Action Input", "Observation", "Final Answer"), ": ", False).corpus(EN)
Labeled("react_zh", ("思考", "行动", "行动输入", "观察", "最终答案"), "：", False).corpus(ZH)
Labeled("toolllama", ("Thought", "Action", "Action Input", "Observation", None), ": ", True).corpus(EN)
Labeled("toolllama_zh", ("思考", "行动", "行动输入", "观察", None), "：", True).corpus(ZH)


# ---------------------------------------------------------------- tagged (Hermes, ModelScope)

class Tagged:
    def __init__(self, name, open_, close, fence, name_key, args_key, sep, parallel):
        self.name, self.open, self.close, self.fence = name, open_, close, fence
        self.nk, self.ak, self.sep, self.parallel = name_key, args_key, sep, parallel

    def body(self, c):
        return "{" + json.dumps(self.nk) + ": " + json.dumps(c["name"], ensure_ascii=False) + ", " + json.dumps(self.ak) + ": " + dumps(c["arguments"]) + "}"

    def block(self, c):
        inner = (self.fence + "\n" + self.body(c) + "\n```") if self.fence else ("\n" + self.body(c) + "\n")
        return self.open + inner + self.close

    def render(self, s):
        if s["type"] == "final_answer":
            return s["answer"]
        out = (s["thought"] + self.sep) if s.get("thought") else ""
        return out + "\n".join(self.block(c) for c in s["calls"])

    def canon(self, s):
        if s["type"] == "final_answer" and s.get("thought"):
            s = dict(s)
            del s["thought"]
        return s

    def corpus(self, bases):
        bases = [self.canon(s) for s in bases]
        calls = [s for s in bases if s["type"] == "tool_calls"]
        if self.parallel:
            bases = bases + [
                tc("Both cities at once.", call("get_weather", {"city": "Paris"}), call("get_weather", {"city": "Lyon"})),
                tc(None, call("calculator", {"expression": "2+2"}), call("convert_units", {"value": 1, "from_unit": "kg", "to_unit": "lb"}), call("get_time", {})),
            ]
        R = []
        for s in bases:
            R.append(rec("correct", "canonical", self.render(s), s, s))
        S = lambda note, text, lenient_step: R.append(rec("slight", note, text, err(), lenient_step))
        for s in bases:
            text = self.render(s)
            S("trailing newline", text + "\n", s)
            S("leading blank line", "\n" + text, s)
        for i, s in enumerate(calls):
            text = self.render(s)
            c = s["calls"][0]
            j = dumps(c["arguments"])
            body = self.body(c)
            variants = [
                ("single-quoted JSON", text.replace(body, body.replace('"', "'")) if "'" not in body and "\\" not in body else None),
                ("trailing comma", text.replace(body, body[:-1] + ",}")),
                ("arguments as a JSON string", text.replace(": " + j + "}", ": " + json.dumps(j, ensure_ascii=False) + "}")),
                ("missing closing tag", text[: -len(self.close)]),
                ("text after the call", text + "\nI will wait for the result."),
                ("call on the tag lines", text.replace(self.open + "\n", self.open).replace("\n" + self.close, self.close)) if not self.fence else ("lowercase fence", text.replace(self.fence, self.fence.lower())),
                ("bare call without tags", None) if not s.get("thought") else ("compact JSON", text.replace(j, json.dumps(c["arguments"], ensure_ascii=False, sort_keys=True, separators=(",", ":")))),
                ("no fence", text.replace(self.fence + "\n", "\n").replace("\n```" + self.close, "\n" + self.close)) if self.fence else ("json fence inside the block", text.replace(self.open + "\n", self.open + "\n```json\n").replace("\n" + self.close, "\n```\n" + self.close)),
            ]
            for note, v in variants[i % len(variants):] + variants[: i % len(variants)][:3]:
                if v is not None and v != text:
                    S(note, v, s)
        for s in calls[:6]:
            if not s.get("thought"):
                body = self.body(s["calls"][0])
                R.append(rec("slight", "bare call without tags", body, fa(None, body), s))
            body = self.body(s["calls"][0])
            fenced = "```json\n" + body + "\n```"
            R.append(rec("slight", "bare fenced call without tags", fenced, fa(None, fenced), {k: v for k, v in s.items() if k != "thought"}))
        # Reasoning models (Qwen3 and the like) open with a think block.
        for s in bases[:10]:
            th = s.get("thought") or "Let me see."
            if s["type"] == "tool_calls":
                text = "<think>\n" + th + "\n</think>\n\n" + "\n".join(self.block(c) for c in s["calls"])
                R.append(rec("slight", "think block before the calls", text, err(), dict(s, thought=th)))
            else:
                text = "<think>\n" + th + "\n</think>\n\n" + s["answer"]
                R.append(rec("slight", "think block before the answer", text, fa(None, text), fa(th, s["answer"])))
        if not self.parallel:
            a, b = calls[0], calls[1]
            S("two calls in one reply", self.render(a) + "\n" + self.block(b["calls"][0]), a)
        B = lambda note, text, contains="": R.append(rec("bad", note, text, err(contains), err(contains)))
        blk = lambda inner: self.open + ((self.fence + "\n" + inner + "\n```") if self.fence else ("\n" + inner + "\n")) + self.close
        B("invalid JSON in the block", blk("{" + json.dumps(self.nk) + ": }"), "")
        B("call without a name", blk("{" + json.dumps(self.ak) + ": {}}"), "")
        B("name is not a string", blk("{" + json.dumps(self.nk) + ": 3, " + json.dumps(self.ak) + ": {}}"), "")
        B("empty reply", "", "empty")
        B("whitespace only", "  \n ", "empty")
        B("truncated JSON", blk('{' + json.dumps(self.nk) + ': "get_weather", ' + json.dumps(self.ak) + ': {"city": "Par'), "")
        B("block holding an array", blk('["get_weather", {"city": "Paris"}]'), "")
        B("arguments that are a number", blk("{" + json.dumps(self.nk) + ': "x", ' + json.dumps(self.ak) + ": 5}"), "")
        B("empty block", self.open + self.close, "")
        B("tool name with spaces", blk("{" + json.dumps(self.nk) + ': "get weather", ' + json.dumps(self.ak) + ": {}}"), "tool name")
        B("closing tag without JSON", "Let me check." + self.close, "")
        B("nothing but the opening tag", self.open, "")
        write(self.name, R)


Tagged("hermes", "<tool_call>", "</tool_call>", None, "name", "arguments", "\n", True).corpus(EN)
Tagged("modelscope", "<|startofthink|>", "<|endofthink|>", "```JSON", "api_name", "parameters", "", False).corpus(EN)


# ---------------------------------------------------------------- JSON (AutoGPT)

FIELDS = ["text", "reasoning", "plan", "criticism", "speak"]


def split_thought(t):
    vals = {f: "" for f in FIELDS}
    if not t:
        return vals
    text = "\n" + t
    marks = []
    frm = 0
    for f in FIELDS[1:]:
        m = "\n" + f + ": "
        p = text.find(m, frm)
        if p >= 0:
            marks.append((f, p, p + len(m)))
            frm = p + len(m)
    vals["text"] = text[1: marks[0][1] if marks else len(text)]
    for n, (f, _, vs) in enumerate(marks):
        ve = marks[n + 1][1] if n + 1 < len(marks) else len(text)
        vals[f] = text[vs:ve]
    return vals


def autogpt_render(s, compact=False, order=("thoughts", "command")):
    if s["type"] == "tool_calls":
        name, args = s["calls"][0]["name"], s["calls"][0]["arguments"]
    else:
        name, args = "finish", {"response": s["answer"]}
    vals = split_thought(s.get("thought"))
    if compact:
        obj = {}
        for k in order:
            obj[k] = {f: vals[f] for f in FIELDS} if k == "thoughts" else {"name": name, "args": args}
        return json.dumps(obj, ensure_ascii=False)
    th = "    \"thoughts\": {\n" + ",\n".join("        %s: %s" % (json.dumps(f), json.dumps(vals[f], ensure_ascii=False)) for f in FIELDS) + "\n    }"
    cm = "    \"command\": {\n        \"name\": %s,\n        \"args\": %s\n    }" % (json.dumps(name, ensure_ascii=False), dumps(args))
    parts = [th, cm] if order[0] == "thoughts" else [cm, th]
    return "{\n" + ",\n".join(parts) + "\n}"


def autogpt():
    bases = list(EN)
    bases[0] = tc("Check the forecast first.\nreasoning: The answer depends on rain.\nplan: - get_weather\n- answer\ncriticism: Do not call twice.\nspeak: Checking the weather.", call("get_weather", {"city": "Paris", "date": "2026-12-02"}))
    bases[8] = fa("I have the forecast.\nspeak: Here it is.", "Tomorrow in Paris: light rain, 6 to 11 °C. Take an umbrella.")
    R = []
    for s in bases:
        R.append(rec("correct", "canonical", autogpt_render(s), s, s))
    S = lambda note, text, lenient_step: R.append(rec("slight", note, text, err(), lenient_step))
    for i, s in enumerate(bases):
        text = autogpt_render(s)
        S("json code fence", "```json\n" + text + "\n```", s)
        S("compact one-line JSON", autogpt_render(s, compact=True), s)
        if i % 2 == 0:
            S("command before thoughts", autogpt_render(s, order=("command", "thoughts")), s)
        else:
            S("text before the JSON", "Here is my next move:\n" + text, s)
        if i % 3 == 0:
            S("trailing comma", text.replace("\n    }\n}", ",\n    }\n}"), s)
    for i, s in enumerate(bases[:8]):
        text = autogpt_render(s)
        vals = split_thought(s.get("thought"))
        if all(("'" not in v and '"' not in v and "\\" not in v) for v in vals.values()) and "'" not in dumps(s["calls"][0]["arguments"]) and "\\" not in dumps(s["calls"][0]["arguments"]):
            S("single-quoted JSON", text.replace('"', "'"), s)
    # Missing optional thought fields: lenient keeps what is there.
    s = bases[1]
    only_text = '{\n    "thoughts": {"text": "Convert the price first."},\n    "command": {"name": "convert_currency", "args": {"amount": 250, "from": "USD", "to": "EUR"}}\n}'
    S("thoughts with only text", only_text, s)
    S("no thoughts at all", '{"command": {"name": "calculator", "args": {"expression": "(17.5 * 4) - 3 / 2"}}}', bases[2])
    S("args as a JSON string", '{"thoughts": {"text": "No arguments needed."}, "command": {"name": "get_time", "args": "{}"}}', bases[13])
    S("Python literals", autogpt_render(bases[7]).replace("null", "None"), bases[7])
    S("thoughts as a plain string", '{"thoughts": "The calculation is done.", "command": {"name": "finish", "args": {"response": "The result is 68.5."}}}', bases[9])
    S("trailing newline", autogpt_render(bases[10]) + "\n", bases[10])
    B = lambda note, text, contains="": R.append(rec("bad", note, text, err(contains), err(contains)))
    B("prose instead of JSON", "I will check the weather in Paris now.", "")
    B("empty reply", "", "")
    B("no command", '{"thoughts": {"text": "hmm", "reasoning": "", "plan": "", "criticism": "", "speak": ""}}', "command")
    B("command without a name", '{"thoughts": {"text": "x", "reasoning": "", "plan": "", "criticism": "", "speak": ""}, "command": {"args": {}}}', "name")
    B("truncated JSON", autogpt_render(bases[0])[:-20], "")
    B("command is a number", '{"thoughts": {"text": "x", "reasoning": "", "plan": "", "criticism": "", "speak": ""}, "command": 42}', "command")
    B("args are a list", '{"thoughts": {"text": "x", "reasoning": "", "plan": "", "criticism": "", "speak": ""}, "command": {"name": "get_weather", "args": ["Paris"]}}', "args")
    R.append(rec("slight", "JSON array around the object", '[{"command": {"name": "get_time", "args": {}}}]', err(), tc(None, call("get_time", {}))))
    B("finish without a response", '{"thoughts": {"text": "x", "reasoning": "", "plan": "", "criticism": "", "speak": ""}, "command": {"name": "finish", "args": {}}}', "response")
    B("unclosed string", '{"thoughts": {"text": "x}, "command": {"name": "get_time", "args": {}}}', "")
    B("empty command name", '{"thoughts": {"text": "x", "reasoning": "", "plan": "", "criticism": "", "speak": ""}, "command": {"name": "", "args": {}}}', "name")
    write("autogpt", R)


autogpt()


# ---------------------------------------------------------------- native (OpenAI)

def openai():
    R = []
    n = [0]

    def msg(content, calls=None):
        m = {"role": "assistant", "content": content}
        if calls:
            m["tool_calls"] = [{"id": c["id"], "type": "function", "function": {"name": c["name"], "arguments": json.dumps(c["arguments"], ensure_ascii=False)}} for c in calls]
        return m

    def with_ids(s):
        s = json.loads(json.dumps(s))
        for c in s.get("calls", []):
            n[0] += 1
            c["id"] = "call_%d" % n[0]
        if s["type"] == "final_answer":
            s.pop("thought", None)
        return s

    bases = [with_ids(s) for s in EN + ZH]
    bases.append(with_ids(tc("Both at once.", call("get_weather", {"city": "Paris"}), call("get_weather", {"city": "Rome"}))))
    for s in bases:
        m = msg(s.get("thought") if s["type"] == "tool_calls" else s["answer"], s.get("calls"))
        R.append(rec("correct", "canonical", m, s, s, message=True))
    S = lambda note, m, lenient_step: R.append(rec("slight", note, m, err(), lenient_step, message=True))
    for s in bases:
        if s["type"] == "tool_calls":
            if s.get("thought"):
                S("whitespace around the text", msg("  " + s["thought"] + "\n", s["calls"]), s)
        else:
            S("trailing newline", msg(s["answer"] + "\n"), s)
    think = "<think>\nSimple greeting, no tool needed.\n</think>\n\nHello! How can I help?"
    R.append(rec("slight", "think block before the answer", msg(think), fa(None, think), fa("Simple greeting, no tool needed.", "Hello! How can I help?"), message=True))
    s = with_ids(tc(None, call("get_weather", {"city": "Oslo"})))
    s["calls"][0].pop("id")
    raw = '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Oslo"}}\n</tool_call>'
    R.append(rec("slight", "hermes block in the text", msg(raw), fa(None, raw), s, message=True))
    B = lambda note, m, contains="": R.append(rec("bad", note, m, err(contains), err(contains), message=True))
    B("empty content, no calls", msg(""), "empty")
    B("null content, no calls", msg(None), "empty")
    B("whitespace only", msg(" \n"), "empty")
    B("tool name with spaces", msg(None, [{"id": "c1", "name": "get weather", "arguments": {}}]), "tool name")
    raw_call = lambda fn: {"role": "assistant", "content": None, "tool_calls": [{"id": "c9", "type": "function", "function": fn}]}
    B("arguments that are not JSON", raw_call({"name": "get_weather", "arguments": "city=Paris"}), "not valid JSON")
    B("arguments that are a JSON array", raw_call({"name": "get_weather", "arguments": "[\"Paris\"]"}), "JSON object")
    B("call without a function name", raw_call({"arguments": "{}"}), "function.name")
    B("tool_calls that are not a list", {"role": "assistant", "content": None, "tool_calls": {"id": "c1"}}, "must be an array")
    write("openai", R)


openai()
