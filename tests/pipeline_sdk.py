# Asks a served checkpoint one tool-calling question through the official `openai` Python SDK
# and checks the reply is an OpenAI tool call: a name among the tools offered, JSON-string
# arguments, finish_reason "tool_calls".
# Usage: python pipeline_sdk.py BASE_URL MODEL
import json
import sys

import openai

base_url, model = sys.argv[1], sys.argv[2]
client = openai.OpenAI(base_url=base_url, api_key="unused", max_retries=0)
tools = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Weather forecast for a city",
            "parameters": {
                "type": "object",
                # An enum: the guide then also bounds the value, so a network that never
                # closes a string on its own still completes the call.
                "properties": {"city": {"type": "string", "enum": ["Beijing", "Shanghai"]}},
                "required": ["city"],
            },
        },
    }
]
r = client.chat.completions.create(
    model=model,
    messages=[{"role": "user", "content": "Will it rain in Beijing tomorrow?"}],
    tools=tools,
    # Named: the server enforces the call's shape (guided decoding), so even the tiny random
    # network of the CI pipeline answers with a well-formed call.
    tool_choice={"type": "function", "function": {"name": "get_weather"}},
    max_tokens=48,
    temperature=0,
)
choice = r.choices[0]
assert choice.finish_reason == "tool_calls", choice
calls = choice.message.tool_calls
assert calls, choice.message
assert calls[0].function.name == "get_weather", calls[0]
args = json.loads(calls[0].function.arguments)
assert args.get("city") in ("Beijing", "Shanghai"), args
print("tool call:", calls[0].function.name, calls[0].function.arguments)
print("all checks passed")
