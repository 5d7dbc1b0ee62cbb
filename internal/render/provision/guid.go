package provision

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"text/template"
	"text/template/parse"

	"github.com/score-spec/score-go/framework"
)

// guid derives the resource's Guid. score-k8s draws a random UUID the first time it sees a
// resource and keeps it in its state file; we keep no state, so the Guid is a hash of what
// identifies the resource: environment, app and uid. A shared resource (one with a Score id)
// leaves the app out, so every app in the environment derives the same Guid for it.
func guid(env, app string, uid framework.ResourceUid, shared bool) string {
	if shared {
		app = ""
	}
	h := sha256.New()
	for _, s := range []string{"scorebot/guid/v1", env, app, string(uid)} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	var u [16]byte
	copy(u[:], h.Sum(nil))
	return formatUUID(u, 8) // RFC 9562 version 8: custom
}

// formatUUID formats u as a UUID of the given version with the RFC 9562 variant bits.
func formatUUID(u [16]byte, version byte) string {
	u[6] = u[6]&0x0f | version<<4
	u[8] = u[8]&0x3f | 0x80
	var out [36]byte
	hex.Encode(out[0:8], u[0:4])
	out[8] = '-'
	hex.Encode(out[9:13], u[4:6])
	out[13] = '-'
	hex.Encode(out[14:18], u[6:8])
	out[18] = '-'
	hex.Encode(out[19:23], u[8:10])
	out[23] = '-'
	hex.Encode(out[24:], u[10:16])
	return string(out[:])
}

// isRandomFunc names the sprig functions that draw random values. score-k8s provisioner files
// use them for names and passwords and rely on the state file to keep them stable. A
// template that calls one of them is executed with deterministic replacements seeded from
// the resource's Guid and the template field, so the same inputs give the same output.
// (A value derived this way is predictable by anyone who knows the inputs: it is fine for
// names; a password made this way only ever reaches a Secret manifest, which render refuses
// as plaintext anyway.)
func isRandomFunc(name string) bool {
	switch name {
	case "randAlphaNum", "randAlpha", "randAscii", "randNumeric", "randBytes", "randInt", "uuidv4", "shuffle":
		return true
	}
	return false
}

const (
	alpha    = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	numeric  = "0123456789"
	asciiSet = " !\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~"
)

// seededRand is the source behind the deterministic stand-ins for sprig's random functions.
// One Provision call owns one; it is reseeded before each template execution that needs it,
// so a template's draws depend only on its resource and field.
type seededRand struct{ r *rand.Rand }

func (s *seededRand) reseed(parts ...string) {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	var seed [32]byte
	copy(seed[:], h.Sum(nil))
	s.r = rand.New(rand.NewChaCha8(seed))
}

func (s *seededRand) pick(set string, n int) string {
	if n <= 0 {
		return ""
	}
	b := make([]byte, n)
	for i := range b {
		b[i] = set[s.r.IntN(len(set))]
	}
	return string(b)
}

// funcs returns the stand-ins for the functions isRandomFunc names, with sprig's signatures.
func (s *seededRand) funcs() template.FuncMap {
	return template.FuncMap{
		"randAlphaNum": func(n int) string { return s.pick(alpha+numeric, n) },
		"randAlpha":    func(n int) string { return s.pick(alpha, n) },
		"randNumeric":  func(n int) string { return s.pick(numeric, n) },
		"randAscii":    func(n int) string { return s.pick(asciiSet, n) },
		"randBytes": func(n int) (string, error) {
			if n < 0 {
				return "", fmt.Errorf("randBytes: negative count %d", n)
			}
			b := make([]byte, n+8)
			for i := 0; i < n; i += 8 {
				binary.LittleEndian.PutUint64(b[i:], s.r.Uint64())
			}
			return base64.StdEncoding.EncodeToString(b[:n]), nil
		},
		"randInt": func(lo, hi int) (int, error) {
			if hi <= lo {
				return 0, fmt.Errorf("randInt: max %d must be greater than min %d", hi, lo)
			}
			return lo + s.r.IntN(hi-lo), nil
		},
		"uuidv4": func() string {
			var b [16]byte
			binary.LittleEndian.PutUint64(b[:8], s.r.Uint64())
			binary.LittleEndian.PutUint64(b[8:], s.r.Uint64())
			return formatUUID(b, 4)
		},
		"shuffle": func(str string) string {
			rs := []rune(str)
			s.r.Shuffle(len(rs), func(i, j int) { rs[i], rs[j] = rs[j], rs[i] })
			return string(rs)
		},
	}
}

// callsOverridden reports whether t, or a template associated with it, calls a function
// that isOverridden names.
func callsOverridden(t *template.Template) bool {
	for _, at := range t.Templates() {
		if at.Tree != nil && nodeCallsOverridden(at.Tree.Root) {
			return true
		}
	}
	return t.Tree != nil && nodeCallsOverridden(t.Tree.Root)
}

func nodeCallsOverridden(n parse.Node) bool {
	switch n := n.(type) {
	case nil:
		return false
	case *parse.ListNode:
		if n == nil {
			return false
		}
		for _, c := range n.Nodes {
			if nodeCallsOverridden(c) {
				return true
			}
		}
	case *parse.ActionNode:
		return nodeCallsOverridden(n.Pipe)
	case *parse.PipeNode:
		if n == nil {
			return false
		}
		for _, c := range n.Cmds {
			if nodeCallsOverridden(c) {
				return true
			}
		}
	case *parse.CommandNode:
		for _, a := range n.Args {
			if nodeCallsOverridden(a) {
				return true
			}
		}
	case *parse.IdentifierNode:
		return isOverridden(n.Ident)
	case *parse.ChainNode:
		return nodeCallsOverridden(n.Node)
	case *parse.IfNode:
		return branchCallsOverridden(&n.BranchNode)
	case *parse.RangeNode:
		return branchCallsOverridden(&n.BranchNode)
	case *parse.WithNode:
		return branchCallsOverridden(&n.BranchNode)
	case *parse.TemplateNode:
		return nodeCallsOverridden(n.Pipe)
	}
	return false
}

func branchCallsOverridden(b *parse.BranchNode) bool {
	return nodeCallsOverridden(b.Pipe) || nodeCallsOverridden(b.List) || nodeCallsOverridden(b.ElseList)
}
