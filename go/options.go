package codeloop

import (
	"context"
	"encoding/json"
	"time"
)

// SandboxMode confines the commands the model runs.
type SandboxMode string

const (
	SandboxReadOnly         SandboxMode = "read-only"
	SandboxWorkspaceWrite   SandboxMode = "workspace-write"
	SandboxDangerFullAccess SandboxMode = "danger-full-access"
)

// ApprovalPolicy says when CanUseTool is asked.
type ApprovalPolicy string

const (
	ApprovalNever     ApprovalPolicy = "never"
	ApprovalOnRequest ApprovalPolicy = "on-request"
	// ApprovalUntrusted asks for every command not known to be read-only.
	ApprovalUntrusted ApprovalPolicy = "untrusted"
)

// Options configure an Agent. Zero values take the library's defaults.
type Options struct {
	Model    string
	Provider string
	// BaseURL of the model API (…/v1). Default: OPENAI_BASE_URL, else the provider's.
	BaseURL   string
	APIKey    string
	APIKeyEnv string
	// Cwd is the agent's working directory. Default: the process's.
	Cwd                   string
	Sandbox               SandboxMode
	WritableRoots         []string
	NetworkAccess         bool
	ApprovalPolicy        ApprovalPolicy
	Instructions          string
	DeveloperInstructions string
	AllowedTools          []string
	DisallowedTools       []string
	OutputSchema          json.RawMessage
	MaxTurns              int
	CommandTimeout        time.Duration
	SessionDir            string
	// Ephemeral: keep no rollout files (threads cannot be resumed).
	Ephemeral bool
	// Extra sets any other AgentOptions field of the protocol schema by its
	// JSON name (e.g. "request_max_retries"); it wins over the fields above.
	Extra map[string]any

	// Tools defined by this program, called when the model uses them.
	Tools []Tool
	// CanUseTool decides approvals (see ApprovalPolicy). Without it they are denied.
	CanUseTool func(ctx context.Context, req ApprovalRequest) (Decision, error)
	// Hooks observe or steer the agent's lifecycle, by hook name.
	Hooks map[HookName]HookFunc
}

func (o *Options) json() ([]byte, error) {
	m := map[string]any{}
	set := func(k string, v any, ok bool) {
		if ok {
			m[k] = v
		}
	}
	set("model", o.Model, o.Model != "")
	set("provider", o.Provider, o.Provider != "")
	set("base_url", o.BaseURL, o.BaseURL != "")
	set("api_key", o.APIKey, o.APIKey != "")
	set("api_key_env", o.APIKeyEnv, o.APIKeyEnv != "")
	set("cwd", o.Cwd, o.Cwd != "")
	set("sandbox", o.Sandbox, o.Sandbox != "")
	set("writable_roots", o.WritableRoots, len(o.WritableRoots) > 0)
	set("network_access", o.NetworkAccess, o.NetworkAccess)
	set("approval_policy", o.ApprovalPolicy, o.ApprovalPolicy != "")
	set("instructions", o.Instructions, o.Instructions != "")
	set("developer_instructions", o.DeveloperInstructions, o.DeveloperInstructions != "")
	set("allowed_tools", o.AllowedTools, o.AllowedTools != nil)
	set("disallowed_tools", o.DisallowedTools, len(o.DisallowedTools) > 0)
	set("output_schema", o.OutputSchema, len(o.OutputSchema) > 0)
	set("max_turns", o.MaxTurns, o.MaxTurns > 0)
	set("command_timeout_ms", o.CommandTimeout.Milliseconds(), o.CommandTimeout > 0)
	set("session_dir", o.SessionDir, o.SessionDir != "")
	set("ephemeral", o.Ephemeral, o.Ephemeral)
	if len(o.Tools) > 0 {
		specs := make([]map[string]any, len(o.Tools))
		for i, t := range o.Tools {
			params := t.Parameters
			if len(params) == 0 {
				params = json.RawMessage(`{"type":"object","properties":{}}`)
			}
			specs[i] = map[string]any{"name": t.Name, "description": t.Description, "parameters": params}
		}
		m["host_tools"] = specs
	}
	for k, v := range o.Extra {
		m[k] = v
	}
	return json.Marshal(m)
}

// Decision answers an approval request.
type Decision string

const (
	Approve           Decision = "approve"
	ApproveForSession Decision = "approve_for_session"
	Deny              Decision = "deny"
	// Abort denies and ends the turn.
	Abort Decision = "abort"
)

// ApprovalRequest is something that needs permission: Kind "command"
// (Command), "file_change" (Changes, Patch) or "tool" (Tool, Arguments).
type ApprovalRequest struct {
	ThreadID  string          `json:"thread_id"`
	CallID    string          `json:"call_id"`
	Cwd       string          `json:"cwd"`
	Reason    string          `json:"reason,omitempty"`
	Kind      string          `json:"kind"`
	Command   []string        `json:"command,omitempty"`
	Changes   []FileChange    `json:"changes,omitempty"`
	Patch     string          `json:"patch,omitempty"`
	Tool      string          `json:"tool,omitempty"`
	Arguments json.RawMessage `json:"arguments,omitempty"`
}

// HookName names a lifecycle hook.
type HookName string

const (
	HookSessionStart     HookName = "SessionStart"
	HookUserPromptSubmit HookName = "UserPromptSubmit"
	HookPreToolUse       HookName = "PreToolUse"
	HookPostToolUse      HookName = "PostToolUse"
	HookStop             HookName = "Stop"
)

// HookEvent is a hook's input; fields follow the Claude Code / Codex hook input.
type HookEvent struct {
	HookEventName        HookName        `json:"hook_event_name"`
	SessionID            string          `json:"session_id"`
	Cwd                  string          `json:"cwd"`
	Source               string          `json:"source,omitempty"`
	Prompt               string          `json:"prompt,omitempty"`
	ToolName             string          `json:"tool_name,omitempty"`
	ToolInput            json.RawMessage `json:"tool_input,omitempty"`
	ToolResponse         json.RawMessage `json:"tool_response,omitempty"`
	LastAssistantMessage *string         `json:"last_assistant_message,omitempty"`
	StopHookActive       bool            `json:"stop_hook_active,omitempty"`
}

// HookDecision: continue (the default), allow or deny.
type HookDecision string

const (
	HookContinue HookDecision = "continue"
	HookAllow    HookDecision = "allow"
	HookDeny     HookDecision = "deny"
)

// HookOutcome is a hook's answer; the zero value lets everything go on.
type HookOutcome struct {
	Decision HookDecision `json:"decision,omitempty"`
	// Reason is shown to the model when the hook denies.
	Reason string `json:"reason,omitempty"`
	// UpdatedInput replaces a PreToolUse tool's input.
	UpdatedInput json.RawMessage `json:"updated_input,omitempty"`
	// AdditionalContext is added to the conversation for the model.
	AdditionalContext string `json:"additional_context,omitempty"`
}

// HookFunc observes or steers one hook. An error fails the turn.
type HookFunc func(ctx context.Context, event HookEvent) (HookOutcome, error)

var hookBits = map[HookName]uint32{
	HookSessionStart:     1 << 2,
	HookUserPromptSubmit: 1 << 3,
	HookPreToolUse:       1 << 4,
	HookPostToolUse:      1 << 5,
	HookStop:             1 << 6,
}
