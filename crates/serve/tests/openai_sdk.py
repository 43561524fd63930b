# Drives a running agentune server with the official `openai` Python SDK: plain chat,
# streaming with usage, legacy completions, errors as SDK exceptions, and (with a real model)
# a tool-call round trip: tools offered, tool_calls returned, the result sent back, an answer.
# Usage: python openai_sdk.py BASE_URL MODEL [--tools]
import json
import sys

import openai

base_url, model = sys.argv[1], sys.argv[2]
with_tools = "--tools" in sys.argv[3:]
client = openai.OpenAI(base_url=base_url, api_key="sdk-key", max_retries=0)

# Plain chat.
r = client.chat.completions.create(
    model=model,
    messages=[{"role": "user", "content": "Say hello."}],
    max_tokens=8,
    temperature=0,
)
assert r.object == "chat.completion", r
assert r.choices[0].message.role == "assistant"
assert r.choices[0].finish_reason in ("stop", "length"), r.choices[0].finish_reason
assert r.usage.completion_tokens <= 8 and r.usage.prompt_tokens > 0
plain = r.choices[0].message.content or ""
print("plain:", repr(plain))

# Streaming, with the usage chunk; the text equals the plain reply (greedy).
stream = client.chat.completions.create(
    model=model,
    messages=[{"role": "user", "content": "Say hello."}],
    max_tokens=8,
    temperature=0,
    stream=True,
    stream_options={"include_usage": True},
)
text, finish, usage = "", None, None
for chunk in stream:
    if chunk.usage is not None:
        usage = chunk.usage
    for c in chunk.choices:
        text += c.delta.content or ""
        finish = c.finish_reason or finish
assert text == plain, (text, plain)
assert finish == r.choices[0].finish_reason, finish
assert usage is not None and usage.completion_tokens == r.usage.completion_tokens, usage
print("stream: ok")

# Legacy completions.
c = client.completions.create(model=model, prompt="Once upon", max_tokens=4, temperature=0)
assert c.object == "text_completion" and c.usage.completion_tokens <= 4
print("completions:", repr(c.choices[0].text))

# Errors arrive as the SDK's typed exceptions, with the field named.
try:
    client.chat.completions.create(model=model, messages=[], max_tokens=2)
    raise SystemExit("empty messages were accepted")
except openai.BadRequestError as e:
    assert e.body["param"] == "messages", e.body
try:
    client.chat.completions.create(model="no-such-model", messages=[{"role": "user", "content": "x"}])
    raise SystemExit("an unknown model was accepted")
except openai.NotFoundError as e:
    assert e.body["code"] == "model_not_found", e.body
print("errors: ok")

models = client.models.list()
assert [m.id for m in models.data] == [model]

if with_tools:
    tools = [{
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Current weather of a city",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string", "description": "City name"}},
                "required": ["city"],
            },
        },
    }]
    messages = [{"role": "user", "content": "What is the weather in Paris?"}]
    r = client.chat.completions.create(
        model=model,
        messages=messages,
        tools=tools,
        tool_choice={"type": "function", "function": {"name": "get_weather"}},
        max_tokens=48,
        temperature=0,
    )
    choice = r.choices[0]
    assert choice.finish_reason == "tool_calls", choice
    call = choice.message.tool_calls[0]
    assert call.type == "function" and call.function.name == "get_weather", call
    args = json.loads(call.function.arguments)
    assert isinstance(args, dict), args
    print("tool call:", call.id, call.function.arguments)
    # Streamed, the same call arrives as tool-call deltas.
    deltas = []
    for chunk in client.chat.completions.create(
        model=model, messages=messages, tools=tools,
        tool_choice={"type": "function", "function": {"name": "get_weather"}},
        max_tokens=48, temperature=0, stream=True,
    ):
        for c in chunk.choices:
            deltas.extend(c.delta.tool_calls or [])
            if c.finish_reason:
                assert c.finish_reason == "tool_calls", c.finish_reason
    assert deltas and deltas[0].function.name == "get_weather", deltas
    assert json.loads("".join(d.function.arguments or "" for d in deltas)) == args
    # Send the result back; the model answers.
    messages.append(choice.message.model_dump(exclude_none=True))
    messages.append({"role": "tool", "tool_call_id": call.id, "content": json.dumps({"city": "Paris", "weather": "sunny, 24 C"})})
    r = client.chat.completions.create(model=model, messages=messages, tools=tools, max_tokens=48, temperature=0)
    final = r.choices[0]
    assert final.finish_reason in ("stop", "length", "tool_calls"), final
    print("after tool result:", final.finish_reason, repr(final.message.content))
    print("tools: ok")
print("openai sdk: all checks passed")
