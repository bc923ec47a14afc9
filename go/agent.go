// Package codeloop embeds the codeloop coding agent in a Go program through
// its C ABI (bindings/ffi): no CLI, no subprocess per turn.
//
//	agent, err := codeloop.New(codeloop.Options{Model: "gpt-5.4", Cwd: dir})
//	if err != nil { ... }
//	defer agent.Close()
//	res, err := agent.StartThread().Run(ctx, "make the failing test pass")
package codeloop

/*
#include "codeloop.h"
*/
import "C"

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"runtime/cgo"
	"sync"
)

// Agent is a configured agent; threads made from it share it. Safe for
// concurrent use. Close it when done (a finalizer is only a safety net).
type Agent struct {
	core *agentCore
}

// agentCore is what the host callback's cgo.Handle refers to. It never
// points back at Agent, so an unreachable Agent can still be finalized.
type agentCore struct {
	mu     sync.RWMutex
	ptr    *C.CodeloopAgent // nil once closed
	handle cgo.Handle

	tools      map[string]Tool
	canUseTool func(context.Context, ApprovalRequest) (Decision, error)
	hooks      map[HookName]HookFunc
	// ctx is given to callbacks and cancelled by Close.
	ctx    context.Context
	cancel context.CancelFunc
}

// New makes an agent. Invalid options give an error matching ErrConfig.
func New(opts Options) (*Agent, error) {
	body, err := opts.json()
	if err != nil {
		return nil, &Error{Code: CodeConfig, Message: err.Error(), cause: err}
	}
	core := &agentCore{
		tools:      map[string]Tool{},
		canUseTool: opts.CanUseTool,
		hooks:      map[HookName]HookFunc{},
	}
	var mask uint32
	for _, t := range opts.Tools {
		if t.Handler == nil {
			return nil, &Error{Code: CodeConfig, Message: fmt.Sprintf("tool %q has no Handler", t.Name)}
		}
		core.tools[t.Name] = t
		mask |= 1
	}
	if opts.CanUseTool != nil {
		mask |= 1 << 1
	}
	for name, fn := range opts.Hooks {
		bit, ok := hookBits[name]
		if !ok {
			return nil, &Error{Code: CodeConfig, Message: fmt.Sprintf("unknown hook %q", name)}
		}
		if fn != nil {
			core.hooks[name] = fn
			mask |= bit
		}
	}
	core.ctx, core.cancel = context.WithCancel(context.Background())
	core.handle = cgo.NewHandle(core)
	ptr, err := cAgentNew(body, uintptr(core.handle), mask)
	if err != nil {
		core.handle.Delete()
		core.cancel()
		return nil, err
	}
	core.ptr = ptr
	a := &Agent{core: core}
	runtime.SetFinalizer(a, (*Agent).Close)
	return a, nil
}

// Close frees the agent. Idempotent. Threads already made keep working;
// their host requests (tools, approvals, hooks) fail from then on.
func (a *Agent) Close() error {
	a.core.close()
	runtime.SetFinalizer(a, nil)
	return nil
}

func (c *agentCore) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ptr == nil {
		return
	}
	// Returns once no host callback runs or can run, so the handle may go.
	C.codeloop_agent_free(c.ptr)
	c.ptr = nil
	c.handle.Delete()
	c.cancel()
}

// StartThread starts a new, empty thread. On a closed agent the thread's
// runs fail with ErrClosed.
func (a *Agent) StartThread() *Thread {
	a.core.mu.RLock()
	defer a.core.mu.RUnlock()
	if a.core.ptr == nil {
		return &Thread{core: &threadCore{err: ErrClosed}}
	}
	var out *C.CodeloopThread
	err := statusError(C.codeloop_agent_start_thread(a.core.ptr, &out))
	if err != nil {
		return &Thread{core: &threadCore{err: err}}
	}
	return newThread(a, out)
}

// ResumeThread continues thread id from the agent's session store.
func (a *Agent) ResumeThread(id string) (*Thread, error) {
	a.core.mu.RLock()
	defer a.core.mu.RUnlock()
	if a.core.ptr == nil {
		return nil, ErrClosed
	}
	idBytes := []byte(id)
	p, n := bytesArg(idBytes)
	var out *C.CodeloopThread
	err := statusError(C.codeloop_agent_resume_thread(a.core.ptr, p, n, &out))
	runtime.KeepAlive(idBytes)
	if err != nil {
		return nil, err
	}
	return newThread(a, out), nil
}

const (
	kindTool     = 1
	kindApproval = 2
	kindHook     = 3
)

// serve answers one host request; it runs on its own goroutine.
func (c *agentCore) serve(id uint64, kind int, payload []byte) {
	answer, err := c.dispatch(kind, payload)
	var body []byte
	if err == nil {
		body, err = json.Marshal(answer)
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.ptr == nil {
		// Closed: the library already failed the request.
		return
	}
	if err != nil {
		msg := []byte(err.Error())
		p, n := bytesArg(msg)
		// An error here means the turn stopped waiting: nothing to do.
		_ = statusError(C.codeloop_host_fail(c.ptr, C.uint64_t(id), p, n))
		runtime.KeepAlive(msg)
		return
	}
	p, n := bytesArg(body)
	_ = statusError(C.codeloop_host_reply(c.ptr, C.uint64_t(id), p, n))
	runtime.KeepAlive(body)
}

// dispatch runs the Go callback for a request; a panic becomes an error.
func (c *agentCore) dispatch(kind int, payload []byte) (answer any, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = &PanicError{Value: r}
		}
	}()
	switch kind {
	case kindTool:
		var call struct {
			Name      string          `json:"name"`
			Arguments json.RawMessage `json:"arguments"`
		}
		if err := json.Unmarshal(payload, &call); err != nil {
			return nil, err
		}
		tool, ok := c.tools[call.Name]
		if !ok {
			return map[string]string{"type": "error", "message": "no handler for tool " + call.Name}, nil
		}
		out, err := tool.Handler(c.ctx, call.Arguments)
		if err != nil {
			// The model sees a failed call and may try again.
			return map[string]string{"type": "error", "message": err.Error()}, nil
		}
		return map[string]string{"type": "output", "output": out}, nil
	case kindApproval:
		var req ApprovalRequest
		if err := json.Unmarshal(payload, &req); err != nil {
			return nil, err
		}
		if c.canUseTool == nil {
			return Deny, nil
		}
		return c.canUseTool(c.ctx, req)
	case kindHook:
		var ev HookEvent
		if err := json.Unmarshal(payload, &ev); err != nil {
			return nil, err
		}
		fn := c.hooks[ev.HookEventName]
		if fn == nil {
			return HookOutcome{}, nil
		}
		out, err := fn(c.ctx, ev)
		if out.Decision == "" {
			out.Decision = HookContinue
		}
		return out, err
	}
	return nil, fmt.Errorf("unknown host request kind %d", kind)
}
