package codeloop

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
)

// Tool is a function the model may call. Parameters is the JSON Schema of
// its arguments object. An error from Handler goes back to the model as a
// failed call; the turn goes on.
type Tool struct {
	Name        string
	Description string
	Parameters  json.RawMessage
	Handler     func(ctx context.Context, arguments json.RawMessage) (string, error)
}

// NewTool makes a Tool whose arguments decode into T (a struct) and whose
// schema is derived from T: exported fields by their json names, required
// unless omitempty or a pointer, described by a `desc:"..."` tag.
func NewTool[T any](name, description string, fn func(ctx context.Context, args T) (string, error)) Tool {
	var zero T
	schema, err := json.Marshal(schemaOf(reflect.TypeOf(zero), false))
	if err != nil {
		// schemaOf builds maps of strings and bools only.
		panic(err)
	}
	return Tool{
		Name:        name,
		Description: description,
		Parameters:  schema,
		Handler: func(ctx context.Context, raw json.RawMessage) (string, error) {
			var args T
			if err := json.Unmarshal(raw, &args); err != nil {
				return "", fmt.Errorf("invalid arguments for %s: %w", name, err)
			}
			return fn(ctx, args)
		},
	}
}

// schemaOf derives a JSON Schema from a Go type. strict gives the shape
// OpenAI's strict structured outputs accept (the output schema is sent
// with "strict": true): every property required, the optional ones
// (omitempty or a pointer) nullable instead.
func schemaOf(t reflect.Type, strict bool) map[string]any {
	if t == nil {
		return map[string]any{"type": "object", "properties": map[string]any{}}
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return map[string]any{"type": "integer"}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.Slice, reflect.Array:
		return map[string]any{"type": "array", "items": schemaOf(t.Elem(), strict)}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": schemaOf(t.Elem(), strict)}
	case reflect.Struct:
		props := map[string]any{}
		required := []string{}
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "-" {
				continue
			}
			if name == "" {
				name = f.Name
			}
			s := schemaOf(f.Type, strict)
			optional := strings.Contains(opts, "omitempty") || f.Type.Kind() == reflect.Pointer
			if strict && optional {
				s = map[string]any{"anyOf": []any{s, map[string]any{"type": "null"}}}
			}
			if d := f.Tag.Get("desc"); d != "" {
				s["description"] = d
			}
			props[name] = s
			if strict || !optional {
				required = append(required, name)
			}
		}
		s := map[string]any{"type": "object", "properties": props, "additionalProperties": false}
		if len(required) > 0 {
			s["required"] = required
		}
		return s
	default:
		return map[string]any{}
	}
}
