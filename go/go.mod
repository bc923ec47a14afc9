module github.com/codeloop-dev/codeloop/go

go 1.23
