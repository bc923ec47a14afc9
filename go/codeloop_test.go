package codeloop_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	codeloop "github.com/codeloop-dev/codeloop/go"
)

func TestRun(t *testing.T) {
	agent, _ := newAgent(t, codeloop.Options{})
	mock.push(t, textTurn("hello from the mock"))
	thread := agent.StartThread()
	defer thread.Close()
	res, err := thread.Run(context.Background(), "say hello")
	if err != nil {
		t.Fatal(err)
	}
	if res.FinalResponse != "hello from the mock" {
		t.Fatalf("final response %q", res.FinalResponse)
	}
	if res.ThreadID != thread.ID() || len(thread.ID()) != 36 {
		t.Fatalf("thread id %q vs %q", res.ThreadID, thread.ID())
	}
	if res.Usage.InputTokens != 100 || res.Usage.OutputTokens != 10 {
		t.Fatalf("usage %+v", res.Usage)
	}
	if len(res.Items) != 1 || res.Items[0].Type != "agent_message" {
		t.Fatalf("items %+v", res.Items)
	}
}

func TestRunStreamed(t *testing.T) {
	agent, _ := newAgent(t, codeloop.Options{})
	mock.push(t, textTurn("streamed answer"))
	thread := agent.StartThread()
	defer thread.Close()
	var types []string
	var deltas strings.Builder
	for ev, err := range thread.RunStreamed(context.Background(), "go") {
		if err != nil {
			t.Fatal(err)
		}
		types = append(types, ev.Type)
		if ev.Type == "item.delta" {
			deltas.WriteString(ev.Delta)
		}
		if ev.Type == "turn.completed" && (ev.Usage == nil || ev.Usage.InputTokens != 100) {
			t.Fatalf("usage %+v", ev.Usage)
		}
	}
	got := strings.Join(types, ",")
	if !strings.HasPrefix(got, "thread.started,turn.started,") || !strings.HasSuffix(got, "item.completed,turn.completed") {
		t.Fatalf("events %s", got)
	}
	if deltas.String() != "streamed answer" {
		t.Fatalf("deltas %q", deltas.String())
	}
}

// Cancelling the context kills a running `sleep` and ends the turn at once.
func TestContextCancelInterruptsACommand(t *testing.T) {
	agent, _ := newAgent(t, codeloop.Options{Sandbox: codeloop.SandboxDangerFullAccess})
	mock.push(t, callTurn(shellCall("c1", "sleep 30")))
	thread := agent.StartThread()
	defer thread.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var started time.Time
	var last error
	for ev, err := range thread.RunStreamed(ctx, "sleep") {
		if err != nil {
			last = err
			break
		}
		if ev.Type == "item.started" && ev.Item != nil && ev.Item.Type == "command_execution" {
			started = time.Now()
			cancel()
		}
	}
	if started.IsZero() {
		t.Fatal("the command never started")
	}
	if elapsed := time.Since(started); elapsed > 10*time.Second {
		t.Fatalf("the interrupt took %v", elapsed)
	}
	if !errors.Is(last, codeloop.ErrInterrupted) || !errors.Is(last, context.Canceled) {
		t.Fatalf("error %v", last)
	}
	// The thread runs again after an interrupt.
	mock.push(t, textTurn("again"))
	res, err := thread.Run(context.Background(), "again")
	if err != nil || res.FinalResponse != "again" {
		t.Fatalf("%v %v", res, err)
	}
}

func TestRunContextCancel(t *testing.T) {
	started := make(chan struct{})
	agent, _ := newAgent(t, codeloop.Options{Tools: []codeloop.Tool{{
		Name: "wait",
		Handler: func(ctx context.Context, _ json.RawMessage) (string, error) {
			close(started)
			<-ctx.Done() // the agent's context: cancelled by Close
			return "", ctx.Err()
		},
	}}})
	mock.push(t, callTurn(functionCall("w1", "wait", map[string]any{})), textTurn("never"))
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-started; cancel() }()
	_, err := agent.StartThread().Run(ctx, "wait")
	if !errors.Is(err, codeloop.ErrInterrupted) || !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v", err)
	}
}

type ticketArgs struct {
	ID     int    `json:"id" desc:"the ticket number"`
	Detail string `json:"detail,omitempty"`
}

func TestHostTool(t *testing.T) {
	var calls atomic.Int32
	tool := codeloop.NewTool("ticket", "look up a ticket", func(ctx context.Context, args ticketArgs) (string, error) {
		calls.Add(1)
		if args.ID == 0 {
			return "", errors.New("no such ticket")
		}
		return "ticket " + string(rune('0'+args.ID)) + " is open", nil
	})
	agent, _ := newAgent(t, codeloop.Options{Tools: []codeloop.Tool{tool}})
	mock.push(t,
		callTurn(functionCall("t1", "ticket", map[string]any{"id": 7}), functionCall("t2", "ticket", map[string]any{"id": 0})),
		textTurn("done"))
	res, err := agent.StartThread().Run(context.Background(), "tickets")
	if err != nil || res.FinalResponse != "done" {
		t.Fatalf("%v %v", res, err)
	}
	if calls.Load() != 2 {
		t.Fatalf("calls %d", calls.Load())
	}
	reqs := mock.requests(t)
	out := toolOutputs(reqs[1])
	if out["t1"] != "ticket 7 is open" || !strings.Contains(out["t2"], "no such ticket") {
		t.Fatalf("outputs %v", out)
	}
	var schema map[string]any
	for _, tl := range reqs[0].Body.Tools {
		if tl["name"] == "ticket" {
			schema, _ = tl["parameters"].(map[string]any)
		}
	}
	req, _ := json.Marshal(schema["required"])
	if string(req) != `["id"]` {
		t.Fatalf("schema %v", schema)
	}
}

func approvalRun(t *testing.T, decide func(context.Context, codeloop.ApprovalRequest) (codeloop.Decision, error)) (*codeloop.Result, error, string) {
	t.Helper()
	agent, dir := newAgent(t, codeloop.Options{
		Sandbox:        codeloop.SandboxDangerFullAccess,
		ApprovalPolicy: codeloop.ApprovalUntrusted,
		CanUseTool:     decide,
	})
	mock.push(t, callTurn(shellCall("s1", "touch made.txt")), textTurn("finished"))
	res, err := agent.StartThread().Run(context.Background(), "touch")
	return res, err, dir
}

func TestCanUseToolAllows(t *testing.T) {
	var mu sync.Mutex
	var asked []string
	res, err, dir := approvalRun(t, func(_ context.Context, r codeloop.ApprovalRequest) (codeloop.Decision, error) {
		mu.Lock()
		defer mu.Unlock()
		asked = append(asked, r.Kind+":"+strings.Join(r.Command, " "))
		return codeloop.Approve, nil
	})
	if err != nil || res.FinalResponse != "finished" {
		t.Fatalf("%v %v", res, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(asked) != 1 || !strings.HasPrefix(asked[0], "command:") || !strings.Contains(asked[0], "touch made.txt") {
		t.Fatalf("asked %v", asked)
	}
	if _, err := os.Stat(filepath.Join(dir, "made.txt")); err != nil {
		t.Fatal("the approved command did not run:", err)
	}
}

func TestCanUseToolDenies(t *testing.T) {
	res, err, dir := approvalRun(t, func(context.Context, codeloop.ApprovalRequest) (codeloop.Decision, error) {
		return codeloop.Deny, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "made.txt")); !os.IsNotExist(err) {
		t.Fatal("the denied command ran")
	}
	if len(res.Items) == 0 || res.Items[0].Type != "command_execution" || res.Items[0].Status != "declined" {
		t.Fatalf("items %+v", res.Items)
	}
}

func TestPanickingCallbackBecomesAnError(t *testing.T) {
	_, err, _ := approvalRun(t, func(context.Context, codeloop.ApprovalRequest) (codeloop.Decision, error) {
		panic("policy exploded")
	})
	if !errors.Is(err, codeloop.ErrHost) || !strings.Contains(err.Error(), "policy exploded") {
		t.Fatalf("error %v", err)
	}
}

func TestPanickingToolGoesBackToTheModel(t *testing.T) {
	agent, _ := newAgent(t, codeloop.Options{Tools: []codeloop.Tool{{
		Name:    "boom",
		Handler: func(context.Context, json.RawMessage) (string, error) { panic("tool exploded") },
	}}})
	mock.push(t, callTurn(functionCall("b1", "boom", map[string]any{})), textTurn("recovered"))
	res, err := agent.StartThread().Run(context.Background(), "boom")
	if err != nil || res.FinalResponse != "recovered" {
		t.Fatalf("%v %v", res, err)
	}
	if out := toolOutputs(mock.requests(t)[1])["b1"]; !strings.Contains(out, "tool exploded") {
		t.Fatalf("output %q", out)
	}
}

func TestHooks(t *testing.T) {
	var prompt atomic.Value
	agent, _ := newAgent(t, codeloop.Options{Hooks: map[codeloop.HookName][]codeloop.HookMatcher{
		codeloop.HookUserPromptSubmit: {{Hooks: []codeloop.HookFunc{
			func(_ context.Context, ev codeloop.HookEvent) (codeloop.HookOutcome, error) {
				prompt.Store(ev.Prompt)
				return codeloop.HookOutcome{AdditionalContext: "the sky is green today"}, nil
			},
		}}},
	}})
	mock.push(t, textTurn("ok"))
	if _, err := agent.StartThread().Run(context.Background(), "what colour is the sky"); err != nil {
		t.Fatal(err)
	}
	if prompt.Load() != "what colour is the sky" {
		t.Fatalf("prompt %v", prompt.Load())
	}
	body, _ := json.Marshal(mock.requests(t)[0].Body.Input)
	if !strings.Contains(string(body), "the sky is green today") {
		t.Fatalf("the hook's context did not reach the model: %s", body)
	}
}

func TestCloseIsIdempotent(t *testing.T) {
	agent, _ := newAgent(t, codeloop.Options{})
	thread := agent.StartThread()
	if err := thread.Close(); err != nil {
		t.Fatal(err)
	}
	if err := thread.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := thread.Run(context.Background(), "x"); !errors.Is(err, codeloop.ErrClosed) {
		t.Fatalf("run on a closed thread: %v", err)
	}
	agent.Close()
	agent.Close()
	if _, err := agent.StartThread().Run(context.Background(), "x"); !errors.Is(err, codeloop.ErrClosed) {
		t.Fatalf("run on a closed agent's thread: %v", err)
	}
	if _, err := agent.ResumeThread("x"); !errors.Is(err, codeloop.ErrClosed) {
		t.Fatalf("resume on a closed agent: %v", err)
	}
}

func TestErrorKinds(t *testing.T) {
	_, err := codeloop.New(codeloop.Options{Sandbox: "nope"})
	var e *codeloop.Error
	if !errors.Is(err, codeloop.ErrConfig) || !errors.As(err, &e) || e.Code != codeloop.CodeConfig {
		t.Fatalf("bad options: %v", err)
	}

	agent, _ := newAgent(t, codeloop.Options{})
	mock.push(t, map[string]any{"kind": "http", "status": 401,
		"body": map[string]any{"error": map[string]any{"message": "bad key", "type": "invalid_request_error", "code": ""}}})
	_, err = agent.StartThread().Run(context.Background(), "x")
	if !errors.Is(err, codeloop.ErrUnauthorized) || errors.Is(err, codeloop.ErrConfig) {
		t.Fatalf("401: %v", err)
	}

	// A second run while one runs on the same thread is busy.
	stalled := sse(created())
	stalled["stall_after"] = 1
	mock.push(t, stalled)
	thread := agent.StartThread()
	defer thread.Close()
	var busy error
	for ev, err := range thread.RunStreamed(context.Background(), "slow") {
		if err != nil {
			t.Fatal(err)
		}
		if ev.Type == "turn.started" {
			_, busy = thread.Run(context.Background(), "again")
			break // interrupts the stalled turn
		}
	}
	if !errors.Is(busy, codeloop.ErrBusy) {
		t.Fatalf("busy: %v", busy)
	}
}

func TestResumeThread(t *testing.T) {
	sessions := t.TempDir()
	agent, _ := newAgent(t, codeloop.Options{SessionDir: sessions})
	mock.push(t, textTurn("first answer"), textTurn("second answer"))
	thread := agent.StartThread()
	if _, err := thread.Run(context.Background(), "remember the word pelican"); err != nil {
		t.Fatal(err)
	}
	thread.Close()
	again, err := agent.ResumeThread(thread.ID())
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	if again.ID() != thread.ID() {
		t.Fatalf("ids %s %s", again.ID(), thread.ID())
	}
	if _, err := again.Run(context.Background(), "which word?"); err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(mock.requests(t)[1].Body.Input)
	if !strings.Contains(string(body), "pelican") || !strings.Contains(string(body), "first answer") {
		t.Fatalf("the resumed thread lost its history: %s", body)
	}
	if _, err := agent.ResumeThread("no-such-thread"); err == nil {
		t.Fatal("resuming an unknown thread succeeded")
	}
}
