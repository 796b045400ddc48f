package store

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/bluegreen/bluegreen/deploy"
)

// DefaultEventLimit is how many events Events returns when asked for
// limit <= 0.
const DefaultEventLimit = 100

// AddEvent appends e to the audit trail and sets e.ID; a zero e.At is set to
// s.Now. e.Data must be valid JSON or nil, which is stored as null.
func (s *Store) AddEvent(ctx context.Context, e *deploy.Event) error {
	if e.Type == "" {
		return errors.New("add event: empty type")
	}
	data := []byte("null")
	if len(e.Data) > 0 {
		var buf bytes.Buffer
		if err := json.Compact(&buf, e.Data); err != nil {
			return fmt.Errorf("add event %s: data: %w", e.Type, err)
		}
		data = buf.Bytes()
	}
	at := s.stampOr(e.At)
	var dep sql.NullInt64
	if e.DeploymentID != nil {
		dep = sql.NullInt64{Int64: *e.DeploymentID, Valid: true}
	}
	res, err := s.exec(ctx, `INSERT INTO events (at, app, deployment_id, type, message, data)
		VALUES (?, ?, ?, ?, ?, ?)`, formatTime(at), e.App, dep, e.Type, e.Message, string(data))
	if err != nil {
		return fmt.Errorf("add event %s: %w", e.Type, err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return fmt.Errorf("add event %s: %w", e.Type, err)
	}
	e.ID = id
	if e.At.IsZero() {
		e.At = at
	}
	return nil
}

// Events returns audit trail entries, oldest first, of app (app "" means
// all). With afterID > 0 they are the first limit events whose id is greater
// than afterID; with afterID <= 0 the newest limit events. limit <= 0 means
// DefaultEventLimit.
func (s *Store) Events(ctx context.Context, app string, afterID int64, limit int) ([]deploy.Event, error) {
	if limit <= 0 {
		limit = DefaultEventLimit
	}
	where, args := "WHERE id > ?", []any{max(afterID, 0)}
	if app != "" {
		where, args = where+" AND app = ?", append(args, app)
	}
	order := "ASC"
	if afterID <= 0 {
		order = "DESC"
	}
	rows, err := s.r.QueryContext(ctx, `SELECT id, at, app, deployment_id, type, message, data
		FROM events `+where+` ORDER BY id `+order+` LIMIT ?`, append(args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("events: %w", err)
	}
	defer rows.Close()
	events := []deploy.Event{}
	for rows.Next() {
		var e deploy.Event
		var at, data string
		var dep sql.NullInt64
		if err := rows.Scan(&e.ID, &at, &e.App, &dep, &e.Type, &e.Message, &data); err != nil {
			return nil, fmt.Errorf("events: %w", err)
		}
		if e.At, err = parseTime(at); err != nil {
			return nil, fmt.Errorf("event %d: %w", e.ID, err)
		}
		if dep.Valid {
			e.DeploymentID = &dep.Int64
		}
		e.Data = json.RawMessage(data)
		events = append(events, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("events: %w", err)
	}
	if afterID <= 0 {
		slices.Reverse(events)
	}
	return events, nil
}
