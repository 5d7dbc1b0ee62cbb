package fluxfeedback

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"regexp"
	"strings"
	"time"
)

// Event is the JSON body Flux's notification-controller sends to a generic or generic-hmac
// Provider (fluxcd/pkg/apis/event v1beta1 Event), with the fields this package reads.
type Event struct {
	InvolvedObject ObjectReference `json:"involvedObject"`
	// Severity is "info" or "error".
	Severity string `json:"severity"`
	// Reason is a machine-readable word: ReconciliationSucceeded, Progressing, BuildFailed,
	// HealthCheckFailed, ReconciliationFailed, ...
	Reason  string `json:"reason"`
	Message string `json:"message"`
	// Metadata carries the revision ("kustomize.toolkit.fluxcd.io/revision", or "revision"),
	// and whatever an Alert's spec.eventMetadata adds (this package reads "env").
	Metadata            map[string]string `json:"metadata,omitempty"`
	ReportingController string            `json:"reportingController"`
	ReportingInstance   string            `json:"reportingInstance,omitempty"`
	Timestamp           time.Time         `json:"timestamp"`
}

// ObjectReference names the Flux object an event is about.
type ObjectReference struct {
	APIVersion string `json:"apiVersion,omitempty"`
	Kind       string `json:"kind"`
	Name       string `json:"name"`
	Namespace  string `json:"namespace"`
	UID        string `json:"uid,omitempty"`
}

// Errors of the signature check, for errors.Is.
var (
	ErrUnsigned     = errors.New("request not signed: X-Signature header missing")
	ErrBadSignature = errors.New("X-Signature does not match the body")
)

// Sign returns the X-Signature value notification-controller sends for body: sha256=<hex>.
func Sign(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Verify checks an X-Signature header value ("<hash-function>=<hex>", the hash one of
// sha224, sha256, sha384, sha512, as notification-controller may send) against body.
func Verify(secret, body []byte, header string) error {
	if header == "" {
		return ErrUnsigned
	}
	alg, sum, ok := strings.Cut(strings.TrimSpace(header), "=")
	if !ok {
		return fmt.Errorf("%w: want <hash-function>=<hex>", ErrBadSignature)
	}
	var newHash func() hash.Hash
	switch strings.ToLower(alg) {
	case "sha224":
		newHash = sha256.New224
	case "sha256":
		newHash = sha256.New
	case "sha384":
		newHash = sha512.New384
	case "sha512":
		newHash = sha512.New
	default:
		return fmt.Errorf("%w: unsupported hash function %q", ErrBadSignature, alg)
	}
	got, err := hex.DecodeString(sum)
	if err != nil {
		return fmt.Errorf("%w: the HMAC is not hex", ErrBadSignature)
	}
	m := hmac.New(newHash, secret)
	m.Write(body)
	if !hmac.Equal(got, m.Sum(nil)) {
		return ErrBadSignature
	}
	return nil
}

var shaRE = regexp.MustCompile(`^[0-9a-f]{40}$`)

// Revision returns the env-repo commit an event is about, from its metadata: Flux writes
// "<branch>@sha1:<sha>" (and "<branch>/<sha>" before Flux 2.0) under
// "kustomize.toolkit.fluxcd.io/revision"; "revision" is accepted too.
func (e *Event) Revision() (string, bool) {
	v := e.Metadata["kustomize.toolkit.fluxcd.io/revision"]
	if v == "" {
		v = e.Metadata["revision"]
	}
	if v == "" {
		return "", false
	}
	sha := v
	if i := strings.LastIndex(v, "sha1:"); i >= 0 {
		sha = v[i+len("sha1:"):]
	} else if i := strings.LastIndexByte(v, '/'); i >= 0 {
		sha = v[i+1:]
	}
	sha = strings.ToLower(sha)
	return sha, shaRE.MatchString(sha)
}

// Outcome is what an event means for the deployment: success, failure, or "" (progress,
// or anything else that says nothing final).
func (e *Event) Outcome() string {
	switch {
	case strings.EqualFold(e.Severity, "error"):
		return "failure"
	case e.Reason == "ReconciliationSucceeded":
		return "success"
	}
	return ""
}
