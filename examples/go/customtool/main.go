// A tool written in Go, called by the agent in this process. NewTool derives
// the JSON Schema the model sees from the arguments struct.
//
// Offline by default (replays examples/python/cassettes/custom_tool.json,
// the same conversation as the Python example); with OPENAI_API_KEY set,
// the real model is asked.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"os"
	"path/filepath"

	codeloop "github.com/codeloop-dev/codeloop/go"
)

type ticket struct {
	Title    string `json:"title"`
	Reporter string `json:"reporter"`
	Body     string `json:"body,omitempty"`
}

var tickets = map[string]ticket{
	"CL-7": {
		Title:    "median() is wrong for an even number of values",
		Reporter: "dana",
		Body:     "median([1, 2, 3, 4]) returns 3; it should return 2.5.",
	},
}

type lookupArgs struct {
	TicketID    string `json:"ticket_id" desc:"The ticket key, like \"CL-7\"."`
	IncludeBody *bool  `json:"include_body,omitempty" desc:"Whether to include the ticket's description."`
}

func lookupTicket(_ context.Context, args lookupArgs) (string, error) {
	t, ok := tickets[args.TicketID]
	if !ok {
		// The model sees this error as the tool's result and can try again.
		return "", fmt.Errorf("no ticket %s", args.TicketID)
	}
	if args.IncludeBody != nil && !*args.IncludeBody {
		t.Body = ""
	}
	out, err := json.Marshal(t)
	return string(out), err
}

func main() {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		log.Fatal(err)
	}
	tool := codeloop.NewTool("lookup_ticket", "Fetch a ticket from the issue tracker.", lookupTicket)
	opts := codeloop.Options{
		Model: "gpt-5.4",
		Tools: []codeloop.Tool{tool},
		// Only our tool: no shell, no file tools.
		AllowedTools: []string{"lookup_ticket"},
		Extra:        map[string]any{"file_tools": false},
		Ephemeral:    true,
	}
	if os.Getenv("OPENAI_API_KEY") == "" {
		opts.Provider = "replay"
		opts.Extra["cassette"] = filepath.Join(root, "examples", "python", "cassettes", "custom_tool.json")
	}
	agent, err := codeloop.New(opts)
	if err != nil {
		log.Fatal(err)
	}
	defer agent.Close()
	fmt.Printf("the model sees: %s\n", tool.Parameters)
	res, err := agent.StartThread().Run(context.Background(), "What does ticket CL-7 ask for? Answer in one sentence.")
	if err != nil {
		log.Fatal(err)
	}
	for _, item := range res.Items {
		if item.Type == "tool_call" {
			fmt.Printf("called %s(%s) -> %s\n", item.Tool, item.Arguments, item.Status)
		}
	}
	fmt.Println("answer:", res.FinalResponse)
}
