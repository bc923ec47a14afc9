"""A tool written in Python, called by the agent in this process.

`@codeloop.tool` turns the function's type hints and docstring into the JSON
Schema the model sees. Offline by default (replays
examples/python/cassettes/custom_tool.json); with OPENAI_API_KEY set, the
real model is asked.

    python examples/python/custom_tool.py
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Dict

import codeloop

HERE = Path(__file__).resolve().parent
CASSETTE = HERE / "cassettes" / "custom_tool.json"

TICKETS = {
    "CL-7": {
        "title": "median() is wrong for an even number of values",
        "reporter": "dana",
        "body": "median([1, 2, 3, 4]) returns 3; it should return 2.5.",
    },
}


@codeloop.tool
def lookup_ticket(ticket_id: str, include_body: bool = True) -> Dict[str, Any]:
    """Fetch a ticket from the issue tracker.

    Args:
        ticket_id: The ticket key, like "CL-7".
        include_body: Whether to include the ticket's description.
    """
    ticket = TICKETS.get(ticket_id)
    if ticket is None:
        # The model sees this error as the tool's result and can try again.
        raise KeyError(f"no ticket {ticket_id}")
    return ticket if include_body else {k: v for k, v in ticket.items() if k != "body"}


def model_options() -> Dict[str, Any]:
    if os.environ.get("CODELOOP_RECORD"):
        # examples/python/record.sh: a scripted mock model answers (its URL and
        # key come from OPENAI_BASE_URL / OPENAI_API_KEY) and the cassette is written.
        return {"model": "gpt-5.4", "record": CASSETTE}
    if os.environ.get("OPENAI_API_KEY"):
        return {"model": "gpt-5.4"}
    return {"model": "gpt-5.4", "provider": "replay", "cassette": CASSETTE}


def main() -> None:
    agent = codeloop.Agent(
        **model_options(),
        tools=[lookup_ticket],
        # Only our tool: no shell, no file tools.
        allowed_tools=["lookup_ticket"],
        file_tools=False,
        ephemeral=True,
    )
    print("the model sees:", lookup_ticket.spec())
    result = agent.start_thread().run("What does ticket CL-7 ask for? Answer in one sentence.")
    for item in result.items:
        if item["type"] == "tool_call":
            print(f"called {item['tool']}({item['arguments']}) -> {item['status']}")
    print("answer:", result.final_response)


if __name__ == "__main__":
    main()
