package codeloop

import (
	"encoding/json"
	"errors"
	"strings"
)

// Usage is token usage, cumulative for the thread.
type Usage struct {
	InputTokens           int64 `json:"input_tokens"`
	CachedInputTokens     int64 `json:"cached_input_tokens"`
	OutputTokens          int64 `json:"output_tokens"`
	ReasoningOutputTokens int64 `json:"reasoning_output_tokens"`
}

// Item is one thread item (agent_message, reasoning, command_execution,
// file_change, mcp_tool_call, web_search, todo_list, error, tool_call).
// Fields not used by Type are zero; Raw holds the item's JSON.
type Item struct {
	ID               string          `json:"id"`
	Type             string          `json:"type"`
	Text             string          `json:"text,omitempty"`
	Command          string          `json:"command,omitempty"`
	AggregatedOutput string          `json:"aggregated_output,omitempty"`
	ExitCode         *int            `json:"exit_code,omitempty"`
	Status           string          `json:"status,omitempty"`
	Changes          []FileChange    `json:"changes,omitempty"`
	Server           string          `json:"server,omitempty"`
	Tool             string          `json:"tool,omitempty"`
	Arguments        json.RawMessage `json:"arguments,omitempty"`
	Output           string          `json:"output,omitempty"`
	// Result of an mcp_tool_call (nil while it runs or when it failed).
	Result    *MCPToolResult  `json:"result,omitempty"`
	Error     *ItemError      `json:"error,omitempty"`
	Query     string          `json:"query,omitempty"`
	TodoItems []TodoItem      `json:"items,omitempty"`
	Message   string          `json:"message,omitempty"`
	Raw       json.RawMessage `json:"-"`
}

func (i *Item) UnmarshalJSON(b []byte) error {
	type plain Item
	if err := json.Unmarshal(b, (*plain)(i)); err != nil {
		return err
	}
	i.Raw = append(json.RawMessage(nil), b...)
	return nil
}

// MCPToolResult is what an MCP tool returned: MCP content blocks
// ({"type":"text","text":...}, images, resources) and its structured content.
type MCPToolResult struct {
	Content           []json.RawMessage `json:"content"`
	StructuredContent json.RawMessage   `json:"structured_content,omitempty"`
}

// Text joins the text blocks of the result.
func (r *MCPToolResult) Text() string {
	var out []string
	for _, c := range r.Content {
		var block struct {
			Type string `json:"type"`
			Text string `json:"text"`
		}
		if json.Unmarshal(c, &block) == nil && block.Type == "text" {
			out = append(out, block.Text)
		}
	}
	return strings.Join(out, "\n")
}

type FileChange struct {
	Path string `json:"path"`
	Kind string `json:"kind"`
}

type ItemError struct {
	Message string `json:"message"`
}

type TodoItem struct {
	Text      string `json:"text"`
	Completed bool   `json:"completed"`
}

// ThreadError is the error of a turn.failed event.
type ThreadError struct {
	Message string    `json:"message"`
	Code    ErrorCode `json:"code,omitempty"`
}

// Compaction is what a compaction did: Trigger "auto" or "manual", the
// context size before in tokens (as the model last reported it; 0 when
// unknown) and the history's items before and after.
type Compaction struct {
	Trigger      string `json:"trigger"`
	TokensBefore int64  `json:"tokens_before"`
	ItemsBefore  int    `json:"items_before"`
	ItemsAfter   int    `json:"items_after"`
}

// Event is one thread event: thread.started, turn.started, turn.completed,
// turn.failed, item.started, item.updated, item.completed, item.delta,
// error, thread.compacted.
type Event struct {
	Type     string       `json:"type"`
	ThreadID string       `json:"thread_id,omitempty"`
	Item     *Item        `json:"item,omitempty"`
	Usage    *Usage       `json:"usage,omitempty"`
	Error    *ThreadError `json:"error,omitempty"`
	// turn.completed of a run with an output schema: the parsed answer.
	Output json.RawMessage `json:"output,omitempty"`
	// item.delta
	ItemID   string `json:"item_id,omitempty"`
	ItemType string `json:"item_type,omitempty"`
	Delta    string `json:"delta,omitempty"`
	// error
	Message string `json:"message,omitempty"`
	// thread.compacted
	Compaction *Compaction     `json:"-"`
	Raw        json.RawMessage `json:"-"`
}

func (e *Event) UnmarshalJSON(b []byte) error {
	type plain Event
	if err := json.Unmarshal(b, (*plain)(e)); err != nil {
		return err
	}
	if e.Type == "thread.compacted" {
		e.Compaction = &Compaction{}
		return json.Unmarshal(b, e.Compaction)
	}
	return nil
}

// Result is the outcome of Thread.Run.
type Result struct {
	ThreadID string `json:"thread_id"`
	// FinalResponse is the text of the turn's last agent message.
	FinalResponse string `json:"final_response"`
	Items         []Item `json:"items"`
	Usage         Usage  `json:"usage"`
	// Output is the final answer as JSON when the run had an output schema
	// (it matched the schema); nil otherwise. See Decode and RunTyped.
	Output json.RawMessage `json:"output,omitempty"`
}

// Decode unmarshals Output into v. A run without an output schema has no
// Output: that is an error.
func (r *Result) Decode(v any) error {
	if len(r.Output) == 0 || string(r.Output) == "null" {
		return errors.New("codeloop: the run has no structured output (set an output schema)")
	}
	return json.Unmarshal(r.Output, v)
}
