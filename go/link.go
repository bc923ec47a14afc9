//go:build !codeloop_custom_link

package codeloop

// #cgo LDFLAGS: ${SRCDIR}/../target/debug/libcodeloop_ffi.a -lpthread -ldl -lm
import "C"
