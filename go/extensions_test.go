package codeloop_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	codeloop "github.com/codeloop-dev/codeloop/go"
)

// inputText is a recorded request's input as one string, to search.
func inputText(t *testing.T, r mockRequest) string {
	t.Helper()
	b, err := json.Marshal(r.Body.Input)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// everythingServer is @modelcontextprotocol/server-everything over stdio,
// installed by `make mcp-deps`.
func everythingServer(t *testing.T) codeloop.MCPServer {
	t.Helper()
	entry, err := filepath.Abs(filepath.Join("..", "tests", "mcp", "node_modules", "@modelcontextprotocol", "server-everything", "dist", "index.js"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(entry); err != nil {
		t.Fatalf("the MCP test servers are not installed: run `make mcp-deps` (%v)", err)
	}
	return codeloop.MCPServer{Command: "node", Args: []string{entry, "stdio"}, Required: true, StartupTimeout: 30 * time.Second}
}

func TestMCPServerToolCall(t *testing.T) {
	agent, _ := newAgent(t, codeloop.Options{MCPServers: map[string]codeloop.MCPServer{
		"everything": everythingServer(t),
	}})
	mock.push(t, callTurn(functionCall("m1", "mcp__everything__echo", map[string]any{"message": "hi from go"})), textTurn("echoed"))
	thread := agent.StartThread()
	defer thread.Close()
	var started, completed []codeloop.Item
	for ev, err := range thread.RunStreamed(context.Background(), "echo something") {
		if err != nil {
			t.Fatal(err)
		}
		if ev.Item == nil || ev.Item.Type != "mcp_tool_call" {
			continue
		}
		switch ev.Type {
		case "item.started":
			started = append(started, *ev.Item)
		case "item.completed":
			completed = append(completed, *ev.Item)
		}
	}
	if len(started) != 1 || started[0].Status != "in_progress" || started[0].Result != nil {
		t.Fatalf("started %+v", started)
	}
	if len(completed) != 1 {
		t.Fatalf("completed %+v", completed)
	}
	item := completed[0]
	if item.Server != "everything" || item.Tool != "echo" || item.Status != "completed" || item.Error != nil {
		t.Fatalf("item %s", item.Raw)
	}
	if item.Result == nil || item.Result.Text() != "Echo: hi from go" {
		t.Fatalf("result %s", item.Raw)
	}
	var args map[string]string
	if err := json.Unmarshal(item.Arguments, &args); err != nil || args["message"] != "hi from go" {
		t.Fatalf("arguments %s", item.Arguments)
	}
	reqs := mock.requests(t)
	if out := toolOutputs(reqs[1])["m1"]; !strings.Contains(out, "Echo: hi from go") {
		t.Fatalf("the tool's output did not reach the model: %q", out)
	}
}

func TestMCPRequiredServerThatCannotStartIsAConfigError(t *testing.T) {
	agent, dir := newAgent(t, codeloop.Options{MCPServers: map[string]codeloop.MCPServer{
		"missing": {Command: "definitely-not-a-program-here", Required: true},
	}})
	mock.push(t, textTurn("never"))
	_, err := agent.StartThread().Run(context.Background(), "hi")
	if !errors.Is(err, codeloop.ErrConfig) || !strings.Contains(err.Error(), "missing") {
		t.Fatalf("error %v (cwd %s)", err, dir)
	}
}

// markedPid is the process whose environment holds CODELOOP_MCP_MARKER=marker
// (0: none).
func markedPid(marker string) int {
	needle := []byte("CODELOOP_MCP_MARKER=" + marker)
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		environ, err := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		if err != nil {
			continue
		}
		for _, kv := range bytes.Split(environ, []byte{0}) {
			if bytes.Equal(kv, needle) {
				return pid
			}
		}
	}
	return 0
}

// waitDead reports whether process pid terminates (a zombie counts: it
// runs no more) within the given time, polling /proc.
func waitDead(pid int, within time.Duration) bool {
	stat := filepath.Join("/proc", strconv.Itoa(pid), "stat")
	for deadline := time.Now().Add(within); ; {
		b, err := os.ReadFile(stat)
		if err != nil {
			return true
		}
		// The state follows the parenthesized command name.
		if i := bytes.LastIndexByte(b, ')'); i >= 0 && i+2 < len(b) && b[i+2] == 'Z' {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestCloseShutsTheMCPServersDownWhileThreadsLive(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("finds the server's process in /proc")
	}
	marker := fmt.Sprintf("close-%d-%d", os.Getpid(), time.Now().UnixNano())
	server := everythingServer(t)
	server.Env = map[string]string{"CODELOOP_MCP_MARKER": marker}
	agent, _ := newAgent(t, codeloop.Options{MCPServers: map[string]codeloop.MCPServer{"everything": server}})
	mock.push(t, textTurn("up"))
	thread := agent.StartThread()
	defer thread.Close()
	if res, err := thread.Run(context.Background(), "start"); err != nil || res.FinalResponse != "up" {
		t.Fatalf("run: %+v, %v", res, err)
	}
	pid := markedPid(marker)
	if pid == 0 {
		t.Fatal("the server does not run")
	}

	if err := agent.Close(); err != nil {
		t.Fatal(err)
	}
	if !waitDead(pid, 10*time.Second) {
		t.Fatalf("server %d outlived Close", pid)
	}
	// The thread is still there; its next run says why it cannot go on.
	if _, err := thread.Run(context.Background(), "again"); !errors.Is(err, codeloop.ErrConfig) || !strings.Contains(err.Error(), "closed") {
		t.Fatalf("run after Close: %v", err)
	}
	if err := agent.Close(); err != nil { // idempotent
		t.Fatal(err)
	}
	if n := len(mock.requests(t)); n != 1 {
		t.Fatalf("%d model requests, want 1", n)
	}
}

// A command hook and three callbacks on PreToolUse, chained by the library:
// the first callback rewrites the input, the second sees it and denies, the
// third never runs, and neither command runs.
func TestHooksChainedByCore(t *testing.T) {
	work := t.TempDir()
	hookInput := filepath.Join(work, "hook-input.json")
	var mu sync.Mutex
	var calls []string
	record := func(s string) {
		mu.Lock()
		defer mu.Unlock()
		calls = append(calls, s)
	}
	agent, dir := newAgent(t, codeloop.Options{
		Cwd:     work,
		Sandbox: codeloop.SandboxDangerFullAccess,
		Hooks: map[codeloop.HookName][]codeloop.HookMatcher{
			codeloop.HookPreToolUse: {
				{Matcher: "read_file", Hooks: []codeloop.HookFunc{
					func(context.Context, codeloop.HookEvent) (codeloop.HookOutcome, error) {
						record("read_file matcher")
						return codeloop.HookOutcome{}, nil
					},
				}},
				{
					Matcher:  "Bash",
					Commands: []codeloop.HookCommand{{Command: "cat > " + hookInput, Timeout: 10 * time.Second}},
					Hooks: []codeloop.HookFunc{
						func(_ context.Context, ev codeloop.HookEvent) (codeloop.HookOutcome, error) {
							record("rewrite:" + ev.ToolName)
							return codeloop.HookOutcome{UpdatedInput: json.RawMessage(`{"command":"touch changed.txt"}`)}, nil
						},
						func(_ context.Context, ev codeloop.HookEvent) (codeloop.HookOutcome, error) {
							record("deny:" + string(ev.ToolInput))
							return codeloop.HookOutcome{Decision: codeloop.HookDeny, Reason: "no touching today"}, nil
						},
						func(context.Context, codeloop.HookEvent) (codeloop.HookOutcome, error) {
							record("after the deny")
							return codeloop.HookOutcome{}, nil
						},
					},
				},
			},
		},
	})
	mock.push(t, callTurn(shellCall("s1", "touch made.txt")), textTurn("blocked"))
	res, err := agent.StartThread().Run(context.Background(), "touch a file")
	if err != nil || res.FinalResponse != "blocked" {
		t.Fatalf("%v %v", res, err)
	}
	mu.Lock()
	got := strings.Join(calls, " | ")
	mu.Unlock()
	if !strings.HasPrefix(got, "rewrite:Bash | deny:") || !strings.Contains(got, "changed.txt") || strings.Count(got, "|") != 1 {
		t.Fatalf("callbacks %q", got)
	}
	raw, err := os.ReadFile(hookInput)
	if err != nil {
		t.Fatal("the command hook did not run: ", err)
	}
	var input map[string]any
	if err := json.Unmarshal(raw, &input); err != nil || input["hook_event_name"] != "PreToolUse" || input["tool_name"] != "Bash" {
		t.Fatalf("command hook input %s", raw)
	}
	for _, f := range []string{"made.txt", "changed.txt"} {
		if _, err := os.Stat(filepath.Join(dir, f)); !os.IsNotExist(err) {
			t.Fatalf("%s exists: the denied command ran", f)
		}
	}
	if out := toolOutputs(mock.requests(t)[1])["s1"]; !strings.Contains(out, "no touching today") {
		t.Fatalf("tool output %q", out)
	}
}

// A PreToolUse hook that answers HookAsk sends the call to CanUseTool,
// even under ApprovalNever.
func TestHookAskGoesToCanUseTool(t *testing.T) {
	asked := make(chan codeloop.ApprovalRequest, 1)
	agent, dir := newAgent(t, codeloop.Options{
		Sandbox:        codeloop.SandboxDangerFullAccess,
		ApprovalPolicy: codeloop.ApprovalNever,
		CanUseTool: func(_ context.Context, r codeloop.ApprovalRequest) (codeloop.Decision, error) {
			asked <- r
			return codeloop.Deny, nil
		},
		Hooks: map[codeloop.HookName][]codeloop.HookMatcher{
			codeloop.HookPreToolUse: {{Hooks: []codeloop.HookFunc{
				func(context.Context, codeloop.HookEvent) (codeloop.HookOutcome, error) {
					return codeloop.HookOutcome{Decision: codeloop.HookAsk, Reason: "check with the user"}, nil
				},
			}}},
		},
	})
	mock.push(t, callTurn(shellCall("s1", "touch asked.txt")), textTurn("declined"))
	if _, err := agent.StartThread().Run(context.Background(), "touch"); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-asked:
		if r.Kind != "tool" || r.Tool != "Bash" || r.Reason != "check with the user" {
			t.Fatalf("approval request %+v", r)
		}
	default:
		t.Fatal("CanUseTool was not asked")
	}
	if _, err := os.Stat(filepath.Join(dir, "asked.txt")); !os.IsNotExist(err) {
		t.Fatal("the denied command ran")
	}
}

func TestHookErrorFailsTheTurn(t *testing.T) {
	agent, _ := newAgent(t, codeloop.Options{Hooks: map[codeloop.HookName][]codeloop.HookMatcher{
		codeloop.HookUserPromptSubmit: {{Hooks: []codeloop.HookFunc{
			func(context.Context, codeloop.HookEvent) (codeloop.HookOutcome, error) {
				return codeloop.HookOutcome{}, errors.New("policy service down")
			},
		}}},
	}})
	mock.push(t, textTurn("never"))
	_, err := agent.StartThread().Run(context.Background(), "hi")
	if !errors.Is(err, codeloop.ErrHost) || !strings.Contains(err.Error(), "policy service down") {
		t.Fatalf("error %v", err)
	}
}

func TestProjectDocsReachTheModel(t *testing.T) {
	repo := t.TempDir()
	if err := os.Mkdir(filepath.Join(repo, ".git"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(repo, "AGENTS.md"), []byte("Always answer with the word marmalade-7f3a.\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	sub := filepath.Join(repo, "pkg", "inner")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, off := range []bool{false, true} {
		agent, _ := newAgent(t, codeloop.Options{Cwd: sub, NoProjectDocs: off})
		mock.push(t, textTurn("ok"))
		if _, err := agent.StartThread().Run(context.Background(), "hello"); err != nil {
			t.Fatal(err)
		}
		sent := strings.Contains(inputText(t, mock.requests(t)[0]), "marmalade-7f3a")
		if sent == off {
			t.Fatalf("NoProjectDocs=%v: AGENTS.md sent=%v", off, sent)
		}
	}
}

type verdict struct {
	Answer string `json:"answer"`
	Score  int    `json:"score"`
}

func TestSchemaForIsStrict(t *testing.T) {
	type answer struct {
		Text string  `json:"text" desc:"the answer"`
		Note *string `json:"note,omitempty"`
	}
	var schema struct {
		Required             []string                   `json:"required"`
		AdditionalProperties bool                       `json:"additionalProperties"`
		Properties           map[string]json.RawMessage `json:"properties"`
	}
	raw := codeloop.SchemaFor[answer]()
	if err := json.Unmarshal(raw, &schema); err != nil {
		t.Fatal(err)
	}
	if strings.Join(schema.Required, ",") != "text,note" || schema.AdditionalProperties {
		t.Fatalf("schema %s", raw)
	}
	if string(schema.Properties["note"]) != `{"anyOf":[{"type":"string"},{"type":"null"}]}` {
		t.Fatalf("an optional field is nullable: %s", raw)
	}
}

func TestStructuredOutput(t *testing.T) {
	agent, _ := newAgent(t, codeloop.Options{})
	thread := agent.StartThread()
	defer thread.Close()

	mock.push(t, textTurn(`{"answer":"yes","score":42}`))
	v, res, err := codeloop.RunTyped[verdict](context.Background(), thread, "judge")
	if err != nil {
		t.Fatal(err)
	}
	if v != (verdict{"yes", 42}) || string(res.Output) != `{"answer":"yes","score":42}` {
		t.Fatalf("%+v %s", v, res.Output)
	}
	format, _ := mock.requests(t)[0].Body.Text["format"].(map[string]any)
	if format["type"] != "json_schema" {
		t.Fatalf("text.format %v", format)
	}
	schema, _ := json.Marshal(format["schema"])
	if !strings.Contains(string(schema), `"score":{"type":"integer"}`) {
		t.Fatalf("schema %s", schema)
	}

	// Without a schema there is no output.
	mock.push(t, textTurn("plain"))
	res, err = thread.Run(context.Background(), "plain")
	if err != nil || res.Output != nil || res.Decode(&v) == nil {
		t.Fatalf("%v %s", err, res.Output)
	}

	// A streamed run's turn.completed carries the parsed answer.
	mock.push(t, textTurn(`{"answer":"no","score":1}`))
	var streamed json.RawMessage
	for ev, err := range thread.RunStreamed(context.Background(), "judge", codeloop.RunOptions{OutputSchema: codeloop.SchemaFor[verdict]()}) {
		if err != nil {
			t.Fatal(err)
		}
		if ev.Type == "turn.completed" {
			streamed = ev.Output
		}
	}
	if string(streamed) != `{"answer":"no","score":1}` {
		t.Fatalf("turn.completed output %s", streamed)
	}

	// An answer that does not match fails with the validation messages.
	mock.push(t, textTurn(`{"answer":"yes"}`))
	_, err = thread.Run(context.Background(), "judge", codeloop.RunOptions{OutputSchema: codeloop.SchemaFor[verdict]()})
	var e *codeloop.Error
	if !errors.Is(err, codeloop.ErrOutputInvalid) || !errors.As(err, &e) || len(e.Errors) == 0 {
		t.Fatalf("error %v", err)
	}
	if !strings.Contains(strings.Join(e.Errors, "\n"), "score") {
		t.Fatalf("errors %q", e.Errors)
	}

	// With a retry the model gets the errors and answers again.
	mock.reset(t)
	mock.push(t, textTurn(`{"answer":"no"}`), textTurn(`{"answer":"no","score":1}`))
	v, _, err = codeloop.RunTyped[verdict](context.Background(), thread, "judge", codeloop.RunOptions{OutputSchemaRetries: 1})
	if err != nil || v != (verdict{"no", 1}) {
		t.Fatalf("%+v %v", v, err)
	}
	if reqs := mock.requests(t); len(reqs) != 2 || !strings.Contains(inputText(t, reqs[1]), "score") {
		t.Fatalf("the retry did not carry the errors: %d requests", len(reqs))
	}
}

func TestBudgets(t *testing.T) {
	var calls atomic.Int32
	tool := codeloop.Tool{Name: "noop", Handler: func(context.Context, json.RawMessage) (string, error) {
		calls.Add(1)
		return "ok", nil
	}}
	agent, _ := newAgent(t, codeloop.Options{Tools: []codeloop.Tool{tool}})
	thread := agent.StartThread()
	defer thread.Close()

	// Each mock request uses 110 tokens: the tool call never runs.
	mock.push(t, callTurn(functionCall("n1", "noop", map[string]any{})), textTurn("never"))
	_, err := thread.Run(context.Background(), "go", codeloop.RunOptions{MaxTokens: 100})
	if !errors.Is(err, codeloop.ErrBudgetExceeded) || !strings.Contains(err.Error(), "max_tokens") || calls.Load() != 0 {
		t.Fatalf("max tokens: %v (tool calls %d)", err, calls.Load())
	}

	// A model that never answers: the run's wall time runs out.
	mock.reset(t)
	stalled := sse(created())
	stalled["stall_after"] = 1
	mock.push(t, stalled)
	start := time.Now()
	_, err = thread.Run(context.Background(), "wait", codeloop.RunOptions{Timeout: 300 * time.Millisecond})
	if !errors.Is(err, codeloop.ErrBudgetExceeded) || !strings.Contains(err.Error(), "timeout_ms (300)") {
		t.Fatalf("timeout: %v", err)
	}
	if elapsed := time.Since(start); elapsed > 10*time.Second {
		t.Fatalf("the timeout took %v", elapsed)
	}

	// The agent's own budget applies when the run sets none.
	limited, _ := newAgent(t, codeloop.Options{MaxTurns: 1, Tools: []codeloop.Tool{tool}})
	mock.push(t, callTurn(functionCall("n2", "noop", map[string]any{})), textTurn("never"))
	_, err = limited.StartThread().Run(context.Background(), "go")
	if !errors.Is(err, codeloop.ErrBudgetExceeded) || !strings.Contains(err.Error(), "max_turns") {
		t.Fatalf("max turns: %v", err)
	}
}

// Steering from inside a tool of the running turn: the next request carries it.
func TestSteerFromATool(t *testing.T) {
	var thread *codeloop.Thread
	steered := make(chan error, 1)
	agent, _ := newAgent(t, codeloop.Options{Tools: []codeloop.Tool{{
		Name: "progress",
		Handler: func(context.Context, json.RawMessage) (string, error) {
			steered <- thread.Steer("also mention the pelicans")
			return "halfway", nil
		},
	}}})
	thread = agent.StartThread()
	defer thread.Close()
	if err := thread.Steer("too early"); !errors.Is(err, codeloop.ErrNoActiveTurn) {
		t.Fatalf("steer with no turn: %v", err)
	}
	mock.push(t, callTurn(functionCall("p1", "progress", map[string]any{})), textTurn("pelicans too"))
	res, err := thread.Run(context.Background(), "work")
	if err != nil || res.FinalResponse != "pelicans too" {
		t.Fatalf("%v %v", res, err)
	}
	if err := <-steered; err != nil {
		t.Fatal("steer during the turn: ", err)
	}
	reqs := mock.requests(t)
	if len(reqs) != 2 || strings.Contains(inputText(t, reqs[0]), "pelicans") || !strings.Contains(inputText(t, reqs[1]), "also mention the pelicans") {
		t.Fatalf("the steered input did not reach the next request (%d requests)", len(reqs))
	}
	if err := thread.Steer("too late"); !errors.Is(err, codeloop.ErrNoActiveTurn) {
		t.Fatalf("steer after the turn: %v", err)
	}
}

func TestCompact(t *testing.T) {
	agent, _ := newAgent(t, codeloop.Options{})
	thread := agent.StartThread()
	defer thread.Close()
	mock.push(t, textTurn("the first answer"), textTurn("SUMMARY: the user likes pelicans"), textTurn("ok"))
	if _, err := thread.Run(context.Background(), "remember: pelicans"); err != nil {
		t.Fatal(err)
	}
	c, err := thread.Compact(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if c.Trigger != "manual" || c.TokensBefore != 110 || c.ItemsBefore <= c.ItemsAfter-1 || c.ItemsAfter == 0 {
		t.Fatalf("compaction %+v", c)
	}
	if _, err := thread.Run(context.Background(), "and now?"); err != nil {
		t.Fatal(err)
	}
	reqs := mock.requests(t)
	if !strings.Contains(inputText(t, reqs[1]), "Context checkpoint") {
		t.Fatal("the compaction request did not ask for a summary")
	}
	after := inputText(t, reqs[2])
	if !strings.Contains(after, "SUMMARY: the user likes pelicans") || strings.Contains(after, "the first answer") {
		t.Fatalf("the history was not replaced: %s", after)
	}

	// Cancelled before it starts: nothing happens.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := thread.Compact(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled compact: %v", err)
	}
}

func TestCompactWhileRunningIsBusy(t *testing.T) {
	var thread *codeloop.Thread
	busy := make(chan error, 1)
	agent, _ := newAgent(t, codeloop.Options{Tools: []codeloop.Tool{{
		Name: "check",
		Handler: func(ctx context.Context, _ json.RawMessage) (string, error) {
			_, err := thread.Compact(ctx)
			busy <- err
			return "checked", nil
		},
	}}})
	thread = agent.StartThread()
	defer thread.Close()
	mock.push(t, callTurn(functionCall("c1", "check", map[string]any{})), textTurn("done"))
	if _, err := thread.Run(context.Background(), "go"); err != nil {
		t.Fatal(err)
	}
	if err := <-busy; !errors.Is(err, codeloop.ErrBusy) {
		t.Fatalf("compact during a turn: %v", err)
	}
}

// Past the limit, the history is compacted before the next request, and
// the stream says so.
func TestAutoCompactStreamedEvent(t *testing.T) {
	tool := codeloop.Tool{Name: "noop", Handler: func(context.Context, json.RawMessage) (string, error) { return "ok", nil }}
	agent, _ := newAgent(t, codeloop.Options{AutoCompactTokenLimit: 50, Tools: []codeloop.Tool{tool}})
	thread := agent.StartThread()
	defer thread.Close()
	mock.push(t, callTurn(functionCall("n1", "noop", map[string]any{})), textTurn("SUMMARY: ran noop"), textTurn("done"))
	var compactions []codeloop.Compaction
	for ev, err := range thread.RunStreamed(context.Background(), "go") {
		if err != nil {
			t.Fatal(err)
		}
		if ev.Type == "thread.compacted" {
			compactions = append(compactions, *ev.Compaction)
		}
	}
	if len(compactions) != 1 || compactions[0].Trigger != "auto" || compactions[0].TokensBefore != 110 {
		t.Fatalf("compactions %+v", compactions)
	}
	if last := inputText(t, mock.requests(t)[2]); !strings.Contains(last, "SUMMARY: ran noop") {
		t.Fatalf("the request after the compaction: %s", last)
	}
}

func TestForkThread(t *testing.T) {
	agent, _ := newAgent(t, codeloop.Options{SessionDir: t.TempDir()})
	thread := agent.StartThread()
	defer thread.Close()
	mock.push(t, textTurn("noted pelican"), textTurn("noted heron"))
	for _, prompt := range []string{"the first word is pelican", "the second word is heron"} {
		if _, err := thread.Run(context.Background(), prompt); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		atTurn    int
		wantHeron bool
	}{{1, false}, {0, true}} {
		mock.reset(t)
		fork, err := agent.ForkThread(thread.ID(), tc.atTurn)
		if err != nil {
			t.Fatal(err)
		}
		if fork.ID() == thread.ID() || len(fork.ID()) != 36 {
			t.Fatalf("fork id %q", fork.ID())
		}
		mock.push(t, textTurn("ok"))
		if _, err := fork.Run(context.Background(), "which words?"); err != nil {
			t.Fatal(err)
		}
		fork.Close()
		sent := inputText(t, mock.requests(t)[0])
		if !strings.Contains(sent, "noted pelican") || strings.Contains(sent, "heron") != tc.wantHeron {
			t.Fatalf("fork at turn %d sent %s", tc.atTurn, sent)
		}
	}
	if _, err := agent.ForkThread(thread.ID(), 5); !errors.Is(err, codeloop.ErrConfig) {
		t.Fatalf("fork past the last turn: %v", err)
	}
	if _, err := agent.ForkThread("no-such-thread", 0); !errors.Is(err, codeloop.ErrConfig) {
		t.Fatalf("fork of an unknown thread: %v", err)
	}
}

// The new agent options reach the library under the names it knows: a
// cost budget from the agent's price table, the config overrides, MCP
// server validation.
func TestAgentOptionsReachTheLibrary(t *testing.T) {
	tool := codeloop.Tool{Name: "noop", Handler: func(context.Context, json.RawMessage) (string, error) { return "ok", nil }}
	agent, _ := newAgent(t, codeloop.Options{
		// 110 tokens at $1000 per 1M tokens: $0.11 a request.
		MaxCostUSD:      0.2,
		ModelPrices:     map[string]codeloop.ModelPrice{"mock-model": {Input: 1000, Output: 1000}},
		TrustProject:    codeloop.Ptr(false),
		SkipConfigFiles: true,
		Tools:           []codeloop.Tool{tool},
	})
	thread := agent.StartThread()
	defer thread.Close()
	mock.push(t, callTurn(functionCall("n1", "noop", map[string]any{})), textTurn("within budget"))
	if res, err := thread.Run(context.Background(), "go"); err != nil || res.FinalResponse != "within budget" {
		t.Fatalf("%v %v", res, err)
	}
	mock.push(t, callTurn(functionCall("n2", "noop", map[string]any{})), textTurn("never"))
	_, err := thread.Run(context.Background(), "go", codeloop.RunOptions{MaxCostUSD: 0.05})
	if !errors.Is(err, codeloop.ErrBudgetExceeded) || !strings.Contains(err.Error(), "max_cost_usd (0.05)") {
		t.Fatalf("cost budget: %v", err)
	}

	// A cost budget for a model without a price is refused.
	_, err = codeloop.New(codeloop.Options{Model: "priceless-local", MaxCostUSD: 1, CodeloopHome: t.TempDir(), Ephemeral: true})
	if !errors.Is(err, codeloop.ErrConfig) || !strings.Contains(err.Error(), "model_prices") {
		t.Fatalf("priceless model: %v", err)
	}
	// config_overrides are read as config.toml keys.
	_, err = codeloop.New(codeloop.Options{ConfigOverrides: map[string]any{"sandbox_mode": "no-such-mode"}, CodeloopHome: t.TempDir(), Ephemeral: true})
	if !errors.Is(err, codeloop.ErrConfig) || !strings.Contains(err.Error(), "sandbox_mode") {
		t.Fatalf("bad override: %v", err)
	}
}

func TestConfigWarnings(t *testing.T) {
	home := t.TempDir()
	if err := os.WriteFile(filepath.Join(home, "config.toml"), []byte("no_such_key_here = 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	agent, _ := newAgent(t, codeloop.Options{CodeloopHome: home})
	warnings, err := agent.ConfigWarnings()
	if err != nil || !strings.Contains(strings.Join(warnings, "\n"), "no_such_key_here") {
		t.Fatalf("%q %v", warnings, err)
	}
	clean, _ := newAgent(t, codeloop.Options{})
	if warnings, err := clean.ConfigWarnings(); err != nil || len(warnings) != 0 {
		t.Fatalf("%q %v", warnings, err)
	}
	clean.Close()
	if _, err := clean.ConfigWarnings(); !errors.Is(err, codeloop.ErrClosed) {
		t.Fatalf("closed agent: %v", err)
	}
}
