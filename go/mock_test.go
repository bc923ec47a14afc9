package codeloop_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	codeloop "github.com/codeloop-dev/codeloop/go"
)

// mock is the mock model server (tests/mock-server), one per test binary;
// each test resets it.
var mock *mockServer

type mockServer struct {
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	baseURL string
	root    string
}

func TestMain(m *testing.M) {
	bin := os.Getenv("CODELOOP_MOCK_BIN")
	if bin == "" {
		bin = filepath.Join("..", "target", "debug", "codeloop-mock-server")
	}
	s, err := startMock(bin)
	if err != nil {
		fmt.Fprintf(os.Stderr, "cannot start the mock model server (%s; run `make go`): %v\n", bin, err)
		os.Exit(1)
	}
	mock = s
	code := m.Run()
	s.stdin.Close()
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	os.Exit(code)
}

func startMock(bin string) (*mockServer, error) {
	cmd := exec.Command(bin)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		_ = cmd.Process.Kill()
		return nil, err
	}
	base := strings.TrimSpace(line)
	return &mockServer{cmd: cmd, stdin: stdin, baseURL: base, root: strings.TrimSuffix(base, "/v1")}, nil
}

func (m *mockServer) call(t testing.TB, method, path string, body any) []byte {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, m.root+path, r)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("content-type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("%s %s: %d %s %v", method, path, resp.StatusCode, out, err)
	}
	return out
}

func (m *mockServer) reset(t testing.TB) { m.call(t, "POST", "/__mock/reset", map[string]any{}) }

func (m *mockServer) push(t testing.TB, replies ...map[string]any) {
	m.call(t, "POST", "/__mock/replies", replies)
}

type mockRequest struct {
	Body struct {
		Input []map[string]any `json:"input"`
		Tools []map[string]any `json:"tools"`
		Text  map[string]any   `json:"text"`
	} `json:"body"`
}

func (m *mockServer) requests(t testing.TB) []mockRequest {
	var out []mockRequest
	if err := json.Unmarshal(m.call(t, "GET", "/__mock/requests", nil), &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// toolOutputs maps call_id to the tool output a request sent back.
func toolOutputs(r mockRequest) map[string]string {
	out := map[string]string{}
	for _, item := range r.Body.Input {
		typ, _ := item["type"].(string)
		if typ == "function_call_output" || typ == "custom_tool_call_output" {
			id, _ := item["call_id"].(string)
			s, _ := item["output"].(string)
			out[id] = s
		}
	}
	return out
}

// ---- reply builders (the OpenAI Responses SSE format)

var usage = map[string]any{
	"input_tokens": 100, "input_tokens_details": map[string]any{"cached_tokens": 40},
	"output_tokens": 10, "output_tokens_details": map[string]any{"reasoning_tokens": 3}, "total_tokens": 110,
}

func sse(events ...map[string]any) map[string]any {
	wrapped := make([]map[string]any, len(events))
	for i, e := range events {
		wrapped[i] = map[string]any{"data": e}
	}
	return map[string]any{"kind": "responses", "events": wrapped}
}

func created() map[string]any {
	return map[string]any{"type": "response.created", "response": map[string]any{"id": "resp"}}
}

func completed() map[string]any {
	return map[string]any{"type": "response.completed", "response": map[string]any{"id": "resp", "usage": usage}}
}

func done(item map[string]any) map[string]any {
	return map[string]any{"type": "response.output_item.done", "output_index": 0, "item": item}
}

func textTurn(text string) map[string]any {
	half := len(text) / 2
	delta := func(s string) map[string]any {
		return map[string]any{"type": "response.output_text.delta", "item_id": "msg", "output_index": 0, "content_index": 0, "delta": s}
	}
	return sse(created(), delta(text[:half]), delta(text[half:]), done(map[string]any{
		"type": "message", "id": "msg", "role": "assistant",
		"content": []any{map[string]any{"type": "output_text", "text": text}},
	}), completed())
}

func functionCall(callID, name string, args any) map[string]any {
	b, _ := json.Marshal(args)
	return done(map[string]any{"type": "function_call", "id": "fc_" + callID, "call_id": callID, "name": name, "arguments": string(b)})
}

func customToolCall(callID, name, input string) map[string]any {
	return done(map[string]any{"type": "custom_tool_call", "id": "ctc_" + callID, "call_id": callID, "name": name, "input": input})
}

func shellCall(callID, command string) map[string]any {
	return functionCall(callID, "shell_command", map[string]any{"command": command, "login": false})
}

func callTurn(calls ...map[string]any) map[string]any {
	events := append([]map[string]any{created()}, calls...)
	return sse(append(events, completed())...)
}

// newAgent makes an agent on the mock model in a fresh directory (returned),
// keeping no sessions and failing fast.
func newAgent(t testing.TB, opts codeloop.Options) (*codeloop.Agent, string) {
	t.Helper()
	mock.reset(t)
	dir := t.TempDir()
	if opts.Cwd == "" {
		opts.Cwd = dir
	}
	if opts.CodeloopHome == "" {
		// Never the machine's ~/.codeloop (config, AGENTS.md, skills, hooks).
		opts.CodeloopHome = filepath.Join(t.TempDir(), "home")
	}
	opts.Model = "mock-model"
	opts.BaseURL = mock.baseURL
	opts.APIKey = "test-key"
	if opts.SessionDir == "" {
		opts.Ephemeral = true
	}
	extra := map[string]any{"request_max_retries": 0, "stream_max_retries": 0, "stream_idle_timeout_ms": 20000}
	for k, v := range opts.Extra {
		extra[k] = v
	}
	opts.Extra = extra
	agent, err := codeloop.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { agent.Close() })
	return agent, opts.Cwd
}
