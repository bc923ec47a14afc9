// A worker pool: many threads at once, one goroutine each, in one process.
// Each agent gets its own scratch copy of examples/sample-repo, runs its
// test suite and reports. An agent is a cheap object: no process per agent,
// and every turn shares codeloop's one runtime.
//
// Offline by default (replays examples/python/cassettes/many_agents.json);
// with OPENAI_API_KEY set, the real model is asked.
//
//	go run ./workerpool [N]
package main

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	codeloop "github.com/codeloop-dev/codeloop/go"
)

const prompt = "Run the test suite with `python3 -m unittest` and tell me in one line how it went."

func main() {
	count := 20
	if len(os.Args) > 1 {
		n, err := strconv.Atoi(os.Args[1])
		if err != nil || n < 1 {
			log.Fatalf("usage: workerpool [N]")
		}
		count = n
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		log.Fatal(err)
	}
	scratch, err := os.MkdirTemp("", "codeloop-many-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(scratch)

	check := func(ctx context.Context, n int) string {
		work := filepath.Join(scratch, fmt.Sprintf("checkout-%d", n))
		if err := os.CopyFS(work, os.DirFS(filepath.Join(root, "examples", "sample-repo"))); err != nil {
			return fmt.Sprintf("agent %2d: %v", n, err)
		}
		opts := codeloop.Options{Model: "gpt-5.4", Cwd: work, Sandbox: codeloop.SandboxDangerFullAccess, Ephemeral: true}
		if os.Getenv("OPENAI_API_KEY") == "" {
			// Every agent replays the same recorded conversation on its own copy.
			opts.Provider = "replay"
			opts.Extra = map[string]any{"cassette": filepath.Join(root, "examples", "python", "cassettes", "many_agents.json")}
		}
		agent, err := codeloop.New(opts)
		if err != nil {
			return fmt.Sprintf("agent %2d: %v", n, err)
		}
		defer agent.Close()
		res, err := agent.StartThread().Run(ctx, prompt)
		if err != nil {
			return fmt.Sprintf("agent %2d: %v", n, err)
		}
		commands := 0
		for _, item := range res.Items {
			if item.Type == "command_execution" {
				commands++
			}
		}
		return fmt.Sprintf("agent %2d: ran %d command(s): %s", n, commands, res.FinalResponse)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	start := time.Now()
	reports := make([]string, count)
	var wg sync.WaitGroup
	for n := range count {
		wg.Add(1)
		go func() {
			defer wg.Done()
			reports[n] = check(ctx, n)
		}()
	}
	wg.Wait()
	for _, r := range reports {
		fmt.Println(r)
	}
	fmt.Printf("%d agents, %.2f s in all\n", count, time.Since(start).Seconds())
}
