module github.com/codeloop-dev/codeloop/examples/go

go 1.23

require github.com/codeloop-dev/codeloop/go v0.0.0

replace github.com/codeloop-dev/codeloop/go => ../../go
