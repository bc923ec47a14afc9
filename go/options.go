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

// Options configure an Agent. Zero values take the library's defaults
// (then the config files, for the fields that config.toml also sets).
type Options struct {
	Model    string
	Provider string
	// BaseURL of the model API (…/v1). Default: OPENAI_BASE_URL, else the provider's.
	BaseURL   string
	APIKey    string
	APIKeyEnv string
	// Cwd is the agent's working directory. Default: the process's.
	Cwd string
	// Sandbox of tool commands. Default: config.toml's sandbox_mode, else read-only.
	Sandbox       SandboxMode
	WritableRoots []string
	// NetworkAccess: whether commands may use the network in the confined
	// modes. nil: as the config files say, else no (Ptr(false) to refuse
	// it whatever they say).
	NetworkAccess *bool
	// ApprovalPolicy: when CanUseTool is asked. Default: config.toml's, else never.
	ApprovalPolicy        ApprovalPolicy
	Instructions          string
	DeveloperInstructions string
	AllowedTools          []string
	DisallowedTools       []string
	// OutputSchema is the JSON Schema every run's final answer must follow
	// (SchemaFor derives one from a Go type); Result.Output holds the parsed
	// answer. RunOptions.OutputSchema sets it for one run.
	OutputSchema json.RawMessage
	// OutputSchemaRetries: how often an answer that does not match the
	// schema goes back to the model (with the validation errors) before the
	// run fails with ErrOutputInvalid. Default 0.
	OutputSchemaRetries int
	// MaxTurns: the most model requests one run may make.
	MaxTurns int
	// MaxTokens: input + output tokens one run may use (ErrBudgetExceeded).
	MaxTokens int64
	// MaxCostUSD: what one run may cost, by ModelPrices (else the built-in
	// table); a model without a price is a configuration error.
	MaxCostUSD float64
	// Timeout: the wall time one run may take (ErrBudgetExceeded); it also
	// stops a running command or tool call.
	Timeout time.Duration
	// ModelPrices in USD per 1M tokens, by model name, over the built-in table.
	ModelPrices map[string]ModelPrice
	// ModelContextWindow in tokens. Default: the built-in table.
	ModelContextWindow int64
	// AutoCompactTokenLimit: compact the history once the context reaches
	// this many tokens. Default: 90% of the context window.
	AutoCompactTokenLimit int64
	// NoAutoCompact turns automatic compaction off (Thread.Compact still works).
	NoAutoCompact  bool
	CommandTimeout time.Duration
	SessionDir     string
	// Ephemeral: keep no rollout files (threads cannot be resumed or forked).
	Ephemeral bool

	// MCPServers by name; their tools are offered as mcp__<server>__<tool>.
	// An entry replaces config.toml's [mcp_servers.<name>].
	MCPServers map[string]MCPServer
	// ConfigOverrides sets config values by dotted key (like
	// `codex exec -c key=value`), over the config files, under these options.
	ConfigOverrides map[string]any
	// SkipConfigFiles: read no config.toml or hooks.json, only these options.
	SkipConfigFiles bool
	// CodeloopHome holds config.toml, the global AGENTS.md, skills and
	// hooks.json. Default: $CODELOOP_HOME, else ~/.codeloop. Setting it also
	// skips ~/.agents/skills.
	CodeloopHome string
	// TrustProject: whether the project's .codeloop/config.toml and
	// hooks.json load. nil: as the user config says (Ptr(true) or Ptr(false)
	// to decide here).
	TrustProject *bool
	// NoProjectDocs: send no AGENTS.md files to the model.
	NoProjectDocs bool
	// ProjectDocMaxBytes limits the AGENTS.md files together. Default 32 KiB.
	ProjectDocMaxBytes int
	// InstructionFiles: more files sent after the project's AGENTS.md.
	InstructionFiles []string
	// NoSkills: list no skills (SKILL.md files) to the model.
	NoSkills bool
	// SkillRoots: more directories holding <name>/SKILL.md.
	SkillRoots []string

	// Extra sets any other AgentOptions field of the protocol schema by its
	// JSON name (e.g. "request_max_retries"); it wins over the fields above.
	Extra map[string]any

	// Tools defined by this program, called when the model uses them.
	Tools []Tool
	// CanUseTool decides approvals (see ApprovalPolicy). Without it they are denied.
	CanUseTool func(ctx context.Context, req ApprovalRequest) (Decision, error)
	// Hooks observe or steer the agent's lifecycle: by hook name, groups of
	// handlers whose Matcher matches. The library runs each event's chain
	// (config files' hooks first, then these, in order); a deny or Stop
	// ends it.
	Hooks map[HookName][]HookMatcher
}

// Ptr returns a pointer to v, for the optional fields of Options.
func Ptr[T any](v T) *T { return &v }

// ModelPrice is a model's price in USD per 1M tokens.
type ModelPrice struct {
	Input float64 `json:"input"`
	// CachedInput: nil means the Input price.
	CachedInput *float64 `json:"cached_input,omitempty"`
	Output      float64  `json:"output"`
}

// MCPServer is an MCP server the agent starts (stdio: Command) or connects
// to (streamable HTTP: URL). Zero values take the defaults.
type MCPServer struct {
	// stdio: the program (looked up on PATH), its arguments and working
	// directory (relative to the agent's cwd). The server gets a minimal
	// environment plus Env and the variables named in EnvVars.
	Command string
	Args    []string
	Env     map[string]string
	EnvVars []string
	Cwd     string
	// streamable HTTP: the endpoint, the variable holding a bearer token,
	// headers, and headers whose values come from variables (header → variable).
	URL               string
	BearerTokenEnvVar string
	HTTPHeaders       map[string]string
	EnvHTTPHeaders    map[string]string
	// Disabled: do not start it.
	Disabled bool
	// Required: a server that fails to start fails the run (ErrConfig)
	// instead of being left out with a warning.
	Required bool
	// StartupTimeout (default 10s) and ToolTimeout (per call, default 60s).
	StartupTimeout time.Duration
	ToolTimeout    time.Duration
	// EnabledTools: offer only these tools (nil: all); DisabledTools: never these.
	EnabledTools  []string
	DisabledTools []string
}

func (s MCPServer) MarshalJSON() ([]byte, error) {
	m := map[string]any{}
	set := func(k string, v any, ok bool) {
		if ok {
			m[k] = v
		}
	}
	set("command", s.Command, s.Command != "")
	set("args", s.Args, len(s.Args) > 0)
	set("env", s.Env, len(s.Env) > 0)
	set("env_vars", s.EnvVars, len(s.EnvVars) > 0)
	set("cwd", s.Cwd, s.Cwd != "")
	set("url", s.URL, s.URL != "")
	set("bearer_token_env_var", s.BearerTokenEnvVar, s.BearerTokenEnvVar != "")
	set("http_headers", s.HTTPHeaders, len(s.HTTPHeaders) > 0)
	set("env_http_headers", s.EnvHTTPHeaders, len(s.EnvHTTPHeaders) > 0)
	set("enabled", false, s.Disabled)
	set("required", true, s.Required)
	set("startup_timeout_sec", s.StartupTimeout.Seconds(), s.StartupTimeout > 0)
	set("tool_timeout_sec", s.ToolTimeout.Seconds(), s.ToolTimeout > 0)
	set("enabled_tools", s.EnabledTools, s.EnabledTools != nil)
	set("disabled_tools", s.DisabledTools, len(s.DisabledTools) > 0)
	return json.Marshal(m)
}

// HookMatcher is a group of hook handlers for the events its Matcher selects:
// for PreToolUse and PostToolUse a regular expression matched against the
// whole tool name ("Bash", "apply_patch", "mcp__server__tool"), for
// SessionStart against the source ("startup", "resume"); "" or "*" matches
// everything. Commands run first, then Hooks, each in order.
type HookMatcher struct {
	Matcher  string
	Commands []HookCommand
	Hooks    []HookFunc
}

// HookCommand is a shell command hook (run with bash -c, the event as JSON
// on stdin), as in Claude Code's and Codex's hooks.json. Timeout: default 60s.
type HookCommand struct {
	Command string
	Timeout time.Duration
}

// RunOptions apply to one run, over the agent's Options; zero values keep
// the agent's.
type RunOptions struct {
	// OutputSchema: the JSON Schema of this run's final answer (Result.Output).
	OutputSchema        json.RawMessage
	OutputSchemaRetries int
	MaxTurns            int
	MaxTokens           int64
	MaxCostUSD          float64
	Timeout             time.Duration
}

func (r RunOptions) MarshalJSON() ([]byte, error) {
	m := map[string]any{}
	if len(r.OutputSchema) > 0 {
		m["output_schema"] = r.OutputSchema
	}
	if r.OutputSchemaRetries > 0 {
		m["output_schema_retries"] = r.OutputSchemaRetries
	}
	if r.MaxTurns > 0 {
		m["max_turns"] = r.MaxTurns
	}
	if r.MaxTokens > 0 {
		m["max_tokens"] = r.MaxTokens
	}
	if r.MaxCostUSD > 0 {
		m["max_cost_usd"] = r.MaxCostUSD
	}
	if r.Timeout > 0 {
		m["timeout_ms"] = millis(r.Timeout)
	}
	return json.Marshal(m)
}

// merge lays the non-zero fields of each of opts over r, in order.
func (r RunOptions) merge(opts []RunOptions) RunOptions {
	for _, o := range opts {
		if len(o.OutputSchema) > 0 {
			r.OutputSchema = o.OutputSchema
		}
		if o.OutputSchemaRetries > 0 {
			r.OutputSchemaRetries = o.OutputSchemaRetries
		}
		if o.MaxTurns > 0 {
			r.MaxTurns = o.MaxTurns
		}
		if o.MaxTokens > 0 {
			r.MaxTokens = o.MaxTokens
		}
		if o.MaxCostUSD > 0 {
			r.MaxCostUSD = o.MaxCostUSD
		}
		if o.Timeout > 0 {
			r.Timeout = o.Timeout
		}
	}
	return r
}

// millis rounds a positive duration up to whole milliseconds, so a short
// timeout never becomes "none".
func millis(d time.Duration) int64 {
	return int64((d + time.Millisecond - 1) / time.Millisecond)
}

// json is the AgentOptions JSON; hooks is the hooks option as built by the
// agent (its callbacks registered by id).
func (o *Options) json(hooks map[HookName][]hookGroup) ([]byte, error) {
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
	set("network_access", o.NetworkAccess, o.NetworkAccess != nil)
	set("approval_policy", o.ApprovalPolicy, o.ApprovalPolicy != "")
	set("instructions", o.Instructions, o.Instructions != "")
	set("developer_instructions", o.DeveloperInstructions, o.DeveloperInstructions != "")
	set("allowed_tools", o.AllowedTools, o.AllowedTools != nil)
	set("disallowed_tools", o.DisallowedTools, len(o.DisallowedTools) > 0)
	set("output_schema", o.OutputSchema, len(o.OutputSchema) > 0)
	set("output_schema_retries", o.OutputSchemaRetries, o.OutputSchemaRetries > 0)
	set("max_turns", o.MaxTurns, o.MaxTurns > 0)
	set("max_tokens", o.MaxTokens, o.MaxTokens > 0)
	set("max_cost_usd", o.MaxCostUSD, o.MaxCostUSD > 0)
	set("timeout_ms", millis(o.Timeout), o.Timeout > 0)
	set("model_prices", o.ModelPrices, len(o.ModelPrices) > 0)
	set("model_context_window", o.ModelContextWindow, o.ModelContextWindow > 0)
	set("auto_compact_token_limit", o.AutoCompactTokenLimit, o.AutoCompactTokenLimit > 0)
	set("auto_compact", false, o.NoAutoCompact)
	set("command_timeout_ms", o.CommandTimeout.Milliseconds(), o.CommandTimeout > 0)
	set("session_dir", o.SessionDir, o.SessionDir != "")
	set("ephemeral", o.Ephemeral, o.Ephemeral)
	set("mcp_servers", o.MCPServers, len(o.MCPServers) > 0)
	set("config_overrides", o.ConfigOverrides, len(o.ConfigOverrides) > 0)
	set("load_config_files", false, o.SkipConfigFiles)
	set("codeloop_home", o.CodeloopHome, o.CodeloopHome != "")
	set("trust_project", o.TrustProject, o.TrustProject != nil)
	set("project_docs", false, o.NoProjectDocs)
	set("project_doc_max_bytes", o.ProjectDocMaxBytes, o.ProjectDocMaxBytes > 0)
	set("instruction_files", o.InstructionFiles, len(o.InstructionFiles) > 0)
	set("skills", false, o.NoSkills)
	set("skill_roots", o.SkillRoots, len(o.SkillRoots) > 0)
	set("hooks", hooks, len(hooks) > 0)
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

// HookDecision: continue (the default), allow, deny or ask.
type HookDecision string

const (
	HookContinue HookDecision = "continue"
	HookAllow    HookDecision = "allow"
	HookDeny     HookDecision = "deny"
	// HookAsk (PreToolUse) asks CanUseTool before the tool runs.
	HookAsk HookDecision = "ask"
)

// HookOutcome is a hook's answer; the zero value lets everything go on.
type HookOutcome struct {
	Decision HookDecision `json:"decision,omitempty"`
	// Reason is shown to the model when the hook denies.
	Reason string `json:"reason,omitempty"`
	// UpdatedInput replaces a PreToolUse tool's input (the next hook of the
	// chain sees it).
	UpdatedInput json.RawMessage `json:"updated_input,omitempty"`
	// AdditionalContext is added to the conversation for the model.
	AdditionalContext string `json:"additional_context,omitempty"`
	// Stop ends the turn after this hook (Claude Code's continue: false);
	// the rest of the chain does not run. StopReason is shown as an error event.
	Stop       bool   `json:"stop,omitempty"`
	StopReason string `json:"stop_reason,omitempty"`
	// SystemMessage is shown to the user as an error event.
	SystemMessage string `json:"system_message,omitempty"`
}

// HookFunc observes or steers one hook. An error fails the turn.
type HookFunc func(ctx context.Context, event HookEvent) (HookOutcome, error)
