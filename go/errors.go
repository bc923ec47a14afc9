package codeloop

import (
	"encoding/json"
	"errors"
	"fmt"
)

// ErrorCode is the kind of a codeloop error, the protocol's ErrorCode.
type ErrorCode string

const (
	CodeModelAPI              ErrorCode = "model_api"
	CodeUnauthorized          ErrorCode = "unauthorized"
	CodeContextWindowExceeded ErrorCode = "context_window_exceeded"
	CodeQuotaExceeded         ErrorCode = "quota_exceeded"
	CodeStream                ErrorCode = "stream"
	CodeReplay                ErrorCode = "replay"
	CodeInterrupted           ErrorCode = "interrupted"
	CodeBudgetExceeded        ErrorCode = "budget_exceeded"
	CodeSandbox               ErrorCode = "sandbox"
	CodeConfig                ErrorCode = "config"
	CodeHost                  ErrorCode = "host"
	CodeBusy                  ErrorCode = "busy"
	// CodeOutputInvalid: the final answer did not match the output schema
	// (Error.Errors lists why).
	CodeOutputInvalid ErrorCode = "output_invalid"
	// CodeNoActiveTurn: Thread.Steer while no turn runs.
	CodeNoActiveTurn ErrorCode = "no_active_turn"
	CodeIO           ErrorCode = "io"
	CodeInternal     ErrorCode = "internal"
	// CodeInvalidArgument: the library refused an argument (a bug in this
	// package or in a caller of the C ABI).
	CodeInvalidArgument ErrorCode = "invalid_argument"
	// CodeUnknownRequest: a host answer named a request that no longer waits.
	CodeUnknownRequest ErrorCode = "unknown_request"
)

// The C ABI's CodeloopCode values, in order (0 is OK).
var cCodes = [...]ErrorCode{
	"", CodeModelAPI, CodeUnauthorized, CodeContextWindowExceeded, CodeQuotaExceeded,
	CodeStream, CodeReplay, CodeInterrupted, CodeBudgetExceeded, CodeSandbox, CodeConfig,
	CodeHost, CodeBusy, CodeIO, CodeInternal, CodeInvalidArgument, CodeUnknownRequest,
	CodeOutputInvalid, CodeNoActiveTurn,
}

// Error is every error the library reports. Match kinds with errors.Is
// against the Err* sentinels, or read Code through errors.As.
type Error struct {
	Code    ErrorCode
	Message string
	// Errors are the validation messages of CodeOutputInvalid: what in the
	// final answer did not match the schema.
	Errors []string
	cause  error
}

func (e *Error) Error() string {
	if e.Message == "" {
		return "codeloop: " + string(e.Code)
	}
	return "codeloop: " + e.Message
}

// Unwrap gives the cause: context.Canceled or DeadlineExceeded for a run
// interrupted by its context.
func (e *Error) Unwrap() error { return e.cause }

// Is matches a sentinel of the same code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Message == "" && t.Code == e.Code
}

// Sentinels for errors.Is, one per main kind.
var (
	ErrModelAPI              = &Error{Code: CodeModelAPI}
	ErrUnauthorized          = &Error{Code: CodeUnauthorized}
	ErrContextWindowExceeded = &Error{Code: CodeContextWindowExceeded}
	ErrQuotaExceeded         = &Error{Code: CodeQuotaExceeded}
	ErrStream                = &Error{Code: CodeStream}
	ErrReplay                = &Error{Code: CodeReplay}
	ErrInterrupted           = &Error{Code: CodeInterrupted}
	ErrBudgetExceeded        = &Error{Code: CodeBudgetExceeded}
	ErrSandbox               = &Error{Code: CodeSandbox}
	ErrConfig                = &Error{Code: CodeConfig}
	ErrHost                  = &Error{Code: CodeHost}
	ErrBusy                  = &Error{Code: CodeBusy}
	ErrOutputInvalid         = &Error{Code: CodeOutputInvalid}
	ErrNoActiveTurn          = &Error{Code: CodeNoActiveTurn}
	ErrIO                    = &Error{Code: CodeIO}
	ErrInternal              = &Error{Code: CodeInternal}
)

// ErrClosed is returned by calls on an Agent or Thread after Close.
var ErrClosed = errors.New("codeloop: use of a closed agent or thread")

func newError(code int, message string) *Error {
	kind := CodeInternal
	if code > 0 && code < len(cCodes) {
		kind = cCodes[code]
	}
	return &Error{Code: kind, Message: message}
}

// completionError is the error of a failed run or compaction: the library
// reports output_invalid as JSON {"message", "errors"}, the rest as text.
func completionError(code int, data []byte) *Error {
	err := newError(code, string(data))
	if err.Code == CodeOutputInvalid {
		var detail struct {
			Message string   `json:"message"`
			Errors  []string `json:"errors"`
		}
		if json.Unmarshal(data, &detail) == nil {
			err.Message, err.Errors = detail.Message, detail.Errors
		}
	}
	return err
}

// PanicError is what a callback's panic becomes: the turn sees a host error
// (or, for a tool, the model sees a failed call) and the program goes on.
type PanicError struct {
	Value any
}

func (p *PanicError) Error() string { return fmt.Sprintf("callback panicked: %v", p.Value) }
