package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strconv"
	"strings"
)

// decodeBody decodes a JSON body into v; an empty body leaves v as is.
// Unknown fields are refused so a misspelt field never passes silently.
func decodeBody(r *http.Request, v any) error {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return Errorf(http.StatusBadRequest, "invalid", "read body: %v", err)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return Errorf(http.StatusBadRequest, "invalid", "bad JSON body: %s", jsonProblem(err, v))
	}
	if dec.More() {
		return Errorf(http.StatusBadRequest, "invalid", "bad JSON body: more than one value")
	}
	return nil
}

// jsonProblem says in the API's words what is wrong with a JSON body that
// did not decode into v: never a Go type or struct field, which
// encoding/json's messages name (docs/api.md, "Errors").
func jsonProblem(err error, v any) string {
	var (
		syntax *json.SyntaxError
		typ    *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &syntax):
		return fmt.Sprintf("not valid JSON at byte %d", syntax.Offset)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "not valid JSON: it ends early"
	case errors.As(err, &typ) && typ.Field == "":
		return fmt.Sprintf("want %s, got %s", jsonKind(reflect.TypeOf(v)), article(typ.Value))
	case errors.As(err, &typ):
		return fmt.Sprintf("%s: want %s, got %s", typ.Field, jsonKind(typ.Type), article(typ.Value))
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		known := jsonFields(v)
		if len(known) == 0 {
			return fmt.Sprintf("unknown field %s: this route takes no fields (send {} or nothing)", name)
		}
		return fmt.Sprintf("unknown field %s (known: %s)", name, strings.Join(known, ", "))
	}
	return "not valid JSON"
}

// jsonKind names the JSON value that fills a Go value of type t.
func jsonKind(t reflect.Type) string {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil {
		return "a value"
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Struct, reflect.Map:
		return "an object"
	}
	return "a value"
}

// article puts "a" or "an" before a JSON kind as encoding/json names it
// ("string", "number", "array", "object", "bool").
func article(kind string) string {
	switch kind {
	case "bool":
		return "true or false"
	case "array", "object":
		return "an " + kind
	}
	return "a " + kind
}

// jsonFields lists the JSON names of the fields of the struct v points to.
func jsonFields(v any) []string {
	t := reflect.TypeOf(v)
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || t.Kind() != reflect.Struct {
		return nil
	}
	var names []string
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if f.IsExported() && name != "-" {
			if name == "" {
				name = f.Name
			}
			names = append(names, name)
		}
	}
	return names
}

func intQuery(r *http.Request, key string, def, lo, hi int) (int, error) {
	v := r.URL.Query().Get(key)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, Errorf(http.StatusBadRequest, "invalid", "%s %q is not an integer in [%d, %d]", key, v, lo, hi)
	}
	return n, nil
}

func boolQuery(r *http.Request, key string) (bool, error) {
	v := r.URL.Query().Get(key)
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, Errorf(http.StatusBadRequest, "invalid", "%s %q is not true or false", key, v)
	}
	return b, nil
}

func isJSON(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && mt == "application/json"
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	buf, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		buf, _ = json.Marshal(ErrorBody{Error: ErrorDetail{Code: "internal", Message: fmt.Sprintf("encode answer: %v", err)}})
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(append(buf, '\n'))
}
