package events

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// Envelope is the body of every message on SCOREBOT_EVENTS: the normalised Event and the
// webhook payload exactly as GitHub sent it (JSON). Payload is omitted, and PayloadOmitted
// set, when the whole message would exceed the NATS server's max_payload.
type Envelope struct {
	Event          Event           `json:"event"`
	PayloadOmitted bool            `json:"payload_omitted,omitempty"`
	Payload        json.RawMessage `json:"payload,omitempty"`
}

// EncodeEnvelope writes {"event":...,"payload":<payload>} without re-encoding payload, so
// the raw bytes GitHub signed are kept verbatim. payload must be valid JSON (Normalize has
// parsed it); a nil payload marks the envelope PayloadOmitted.
func EncodeEnvelope(ev *Event, payload []byte) ([]byte, error) {
	evJSON, err := json.Marshal(ev)
	if err != nil {
		return nil, fmt.Errorf("encode event %s: %w", ev.Delivery, err)
	}
	payload = bytes.TrimSpace(payload)
	var b bytes.Buffer
	b.Grow(len(evJSON) + len(payload) + 40)
	b.WriteString(`{"event":`)
	b.Write(evJSON)
	if payload == nil {
		b.WriteString(`,"payload_omitted":true}`)
	} else {
		b.WriteString(`,"payload":`)
		b.Write(payload)
		b.WriteString(`}`)
	}
	return b.Bytes(), nil
}

// DecodeEnvelope reads a message body written by EncodeEnvelope.
func DecodeEnvelope(data []byte) (*Envelope, error) {
	var env Envelope
	if err := json.Unmarshal(data, &env); err != nil {
		return nil, fmt.Errorf("decode event envelope: %w", err)
	}
	if env.Event.Delivery == "" || env.Event.Kind == "" {
		return nil, fmt.Errorf("decode event envelope: event.delivery or event.kind is empty")
	}
	return &env, nil
}
