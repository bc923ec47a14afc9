package codeloop

/*
#include "codeloop.h"
*/
import "C"

import (
	"context"
	"encoding/json"
	"iter"
	"runtime"
	"runtime/cgo"
	"sync"
)

// Thread is one conversation. Runs on one thread are sequential (a second
// concurrent run fails with ErrBusy); different threads run in parallel.
// Close it when done (a finalizer is only a safety net).
type Thread struct {
	core *threadCore
	// agent keeps the agent (and its host callbacks) alive while the thread is.
	agent *Agent
}

type threadCore struct {
	mu  sync.RWMutex
	ptr *C.CodeloopThread // nil once closed
	id  string
	err error // set when the thread could not be made
}

func newThread(a *Agent, ptr *C.CodeloopThread) *Thread {
	core := &threadCore{ptr: ptr}
	var id C.CodeloopBytes
	if err := statusError(C.codeloop_thread_id(ptr, &id)); err == nil {
		core.id = C.GoStringN((*C.char)(unsafePointer(id.ptr)), C.int(id.len))
		C.codeloop_bytes_free(id)
	}
	t := &Thread{core: core, agent: a}
	runtime.SetFinalizer(t, (*Thread).Close)
	return t
}

// ID is the thread's id, to resume it by later.
func (t *Thread) ID() string { return t.core.id }

// Close frees the thread. Idempotent. A run in progress goes on to its end.
func (t *Thread) Close() error {
	t.core.mu.Lock()
	defer t.core.mu.Unlock()
	if t.core.ptr != nil {
		C.codeloop_thread_free(t.core.ptr)
		t.core.ptr = nil
		if t.core.err == nil {
			t.core.err = ErrClosed
		}
	}
	runtime.SetFinalizer(t, nil)
	return nil
}

// Interrupt interrupts the running turn, if any; its run returns an error
// matching ErrInterrupted.
func (t *Thread) Interrupt() {
	t.core.mu.RLock()
	defer t.core.mu.RUnlock()
	if t.core.ptr != nil {
		C.codeloop_thread_interrupt(t.core.ptr)
	}
}

// runState is what one run's cgo.Handle refers to: events queued by the
// library's threads (never blocking them) and the outcome.
type runState struct {
	mu     sync.Mutex
	queue  [][]byte
	notify chan struct{} // one pending wake-up at most
	done   chan struct{} // closed by finish
	code   int
	data   []byte
}

func (r *runState) push(event []byte) {
	r.mu.Lock()
	r.queue = append(r.queue, event)
	r.mu.Unlock()
	select {
	case r.notify <- struct{}{}:
	default:
	}
}

func (r *runState) take() [][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	q := r.queue
	r.queue = nil
	return q
}

func (r *runState) finish(code int, data []byte) {
	r.mu.Lock()
	r.code, r.data = code, data
	r.mu.Unlock()
	close(r.done)
}

// start begins a turn; the returned cancel function interrupts it and
// release frees the run handle.
func (t *Thread) start(input string, stream bool) (*runState, func(), func(), error) {
	body, err := json.Marshal(input)
	if err != nil {
		return nil, nil, nil, err
	}
	rs := &runState{notify: make(chan struct{}, 1), done: make(chan struct{})}
	h := cgo.NewHandle(rs)
	t.core.mu.RLock()
	if t.core.ptr == nil {
		err := t.core.err
		t.core.mu.RUnlock()
		h.Delete()
		if err == nil {
			err = ErrClosed
		}
		return nil, nil, nil, err
	}
	run, err := cThreadRun(t.core.ptr, body, stream, uintptr(h))
	t.core.mu.RUnlock()
	runtime.KeepAlive(t)
	if err != nil {
		// The library calls nothing when it refuses a run.
		h.Delete()
		return nil, nil, nil, err
	}
	var once sync.Once
	cancel := func() { C.codeloop_run_cancel(run) }
	release := func() { once.Do(func() { C.codeloop_run_free(run) }) }
	return rs, cancel, release, nil
}

// outcome reads a finished run's result or error; cause is the context's
// error when the context interrupted the run.
func (r *runState) outcome(cause error) (*Result, error) {
	r.mu.Lock()
	code, data := r.code, r.data
	r.mu.Unlock()
	if code != 0 {
		err := newError(code, string(data)).(*Error)
		if err.Code == CodeInterrupted && cause != nil {
			err.cause = cause
		}
		return nil, err
	}
	var res Result
	if err := json.Unmarshal(data, &res); err != nil {
		return nil, &Error{Code: CodeInternal, Message: "cannot decode the run result: " + err.Error(), cause: err}
	}
	return &res, nil
}

// Run runs one turn to its end. Cancelling ctx interrupts the turn: the
// error then matches both ErrInterrupted and ctx's error.
func (t *Thread) Run(ctx context.Context, input string) (*Result, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	rs, cancel, release, err := t.start(input, false)
	if err != nil {
		return nil, err
	}
	defer release()
	var cause error
	select {
	case <-rs.done:
	case <-ctx.Done():
		cancel()
		<-rs.done
		cause = ctx.Err()
	}
	return rs.outcome(cause)
}

// RunStreamed runs one turn and yields its events as they come; a failed
// turn ends with its error (after the turn.failed event). Cancelling ctx or
// breaking out of the loop interrupts the turn.
func (t *Thread) RunStreamed(ctx context.Context, input string) iter.Seq2[Event, error] {
	return func(yield func(Event, error) bool) {
		if err := ctx.Err(); err != nil {
			yield(Event{}, err)
			return
		}
		rs, cancel, release, err := t.start(input, true)
		if err != nil {
			yield(Event{}, err)
			return
		}
		defer release()
		var cause error
		ctxDone := ctx.Done()
		finished := false
		for {
			for _, raw := range rs.take() {
				var ev Event
				if err := json.Unmarshal(raw, &ev); err != nil {
					ev = Event{Type: "unknown"}
				}
				ev.Raw = raw
				if !yield(ev, nil) {
					// The caller stopped listening: stop the turn and wait for
					// its end, so nothing of it outlives the loop.
					cancel()
					<-rs.done
					return
				}
			}
			if finished {
				break
			}
			select {
			case <-rs.notify:
			case <-rs.done:
				// Every event came before the completion: one more drain.
				finished = true
			case <-ctxDone:
				cancel()
				cause = ctx.Err()
				ctxDone = nil
			}
		}
		if _, err := rs.outcome(cause); err != nil {
			yield(Event{}, err)
		}
	}
}
