package codeloop_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	codeloop "github.com/codeloop-dev/codeloop/go"
)

// Benchmarks over the real library and the mock model (make bench-go).
// Not part of `make test`.

// One turn with one shell call (two model requests), reported as the median.
func BenchmarkTurnWithShellCall(b *testing.B) {
	agent, _ := newAgent(b, codeloop.Options{Sandbox: codeloop.SandboxDangerFullAccess})
	defer agent.Close()
	thread := agent.StartThread()
	defer thread.Close()
	var times []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		mock.reset(b)
		mock.push(b, callTurn(shellCall("c", "true")), textTurn("done"))
		b.StartTimer()
		start := time.Now()
		if _, err := thread.Run(context.Background(), "run true"); err != nil {
			b.Fatal(err)
		}
		times = append(times, time.Since(start))
	}
	slices.Sort(times)
	b.ReportMetric(float64(times[len(times)/2].Microseconds())/1000, "median-ms/turn")
}

// Events per second into Go from a turn of 100,000 text deltas.
func BenchmarkEventsFromDeltas(b *testing.B) {
	const n = 100_000
	events := []map[string]any{created()}
	for i := 0; i < n; i++ {
		events = append(events, map[string]any{"type": "response.output_text.delta", "item_id": "msg", "output_index": 0, "content_index": 0, "delta": "x"})
	}
	events = append(events, done(map[string]any{"type": "message", "id": "msg", "role": "assistant",
		"content": []any{map[string]any{"type": "output_text", "text": "x"}}}), completed())
	reply := sse(events...)
	agent, _ := newAgent(b, codeloop.Options{})
	defer agent.Close()
	var total int
	var elapsed time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		mock.reset(b)
		mock.push(b, reply)
		thread := agent.StartThread()
		b.StartTimer()
		start := time.Now()
		for _, err := range thread.RunStreamed(context.Background(), "stream") {
			if err != nil {
				b.Fatal(err)
			}
			total++
		}
		elapsed += time.Since(start)
		thread.Close()
	}
	if total < n*b.N {
		b.Fatalf("only %d events", total)
	}
	b.ReportMetric(float64(total)/elapsed.Seconds(), "events/s")
}

// The cost of one round trip through a Go host-tool callback: a turn of 200
// calls answered by a Go func, against the same turn whose calls the library
// answers itself (no handler registered), per call.
func BenchmarkHostToolRoundTrip(b *testing.B) {
	const calls = 200
	var batch []map[string]any
	for i := 0; i < calls; i++ {
		batch = append(batch, functionCall(fmt.Sprintf("c%d", i), "noop", map[string]any{}))
	}
	turn := func(opts codeloop.Options) time.Duration {
		agent, _ := newAgent(b, opts)
		defer agent.Close()
		mock.push(b, callTurn(batch...), textTurn("done"))
		start := time.Now()
		if _, err := agent.StartThread().Run(context.Background(), "go"); err != nil {
			b.Fatal(err)
		}
		return time.Since(start)
	}
	withGo := codeloop.Options{Tools: []codeloop.Tool{{Name: "noop",
		Handler: func(context.Context, json.RawMessage) (string, error) { return "ok", nil }}}}
	without := codeloop.Options{Extra: map[string]any{"host_tools": []any{map[string]any{"name": "noop"}}}}
	var diff time.Duration
	for i := 0; i < b.N; i++ {
		diff += turn(withGo) - turn(without)
	}
	b.ReportMetric(float64(diff.Nanoseconds())/float64(b.N*calls)/1000, "us/call")
}
