package codeloop

import "encoding/json"

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
	Error            *ItemError      `json:"error,omitempty"`
	Query            string          `json:"query,omitempty"`
	TodoItems        []TodoItem      `json:"items,omitempty"`
	Message          string          `json:"message,omitempty"`
	Raw              json.RawMessage `json:"-"`
}

func (i *Item) UnmarshalJSON(b []byte) error {
	type plain Item
	if err := json.Unmarshal(b, (*plain)(i)); err != nil {
		return err
	}
	i.Raw = append(json.RawMessage(nil), b...)
	return nil
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

// Event is one thread event: thread.started, turn.started, turn.completed,
// turn.failed, item.started, item.updated, item.completed, item.delta, error.
type Event struct {
	Type     string       `json:"type"`
	ThreadID string       `json:"thread_id,omitempty"`
	Item     *Item        `json:"item,omitempty"`
	Usage    *Usage       `json:"usage,omitempty"`
	Error    *ThreadError `json:"error,omitempty"`
	// item.delta
	ItemID   string `json:"item_id,omitempty"`
	ItemType string `json:"item_type,omitempty"`
	Delta    string `json:"delta,omitempty"`
	// error
	Message string          `json:"message,omitempty"`
	Raw     json.RawMessage `json:"-"`
}

// Result is the outcome of Thread.Run.
type Result struct {
	ThreadID string `json:"thread_id"`
	// FinalResponse is the text of the turn's last agent message.
	FinalResponse string `json:"final_response"`
	Items         []Item `json:"items"`
	Usage         Usage  `json:"usage"`
}
