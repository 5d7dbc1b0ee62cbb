package provision

import (
	"testing"

	"github.com/score-spec/score-go/framework"
)

func TestSubstituteString(t *testing.T) {
	lookup := lookupFunc(
		map[string]any{"name": "api", "annotations": map[string]any{"a.b/c": "d"}},
		map[string]map[string]any{"db": {"host": "pg", "port": int64(5432), "nested": map[string]any{"k": []any{"v"}}}},
	)
	tests := []struct {
		in, want string
		wantErr  bool
	}{
		{in: "plain", want: "plain"},
		{in: "${resources.db.host}:${resources.db.port}", want: "pg:5432"},
		{in: "${resources.db.nested}", want: `{"k":["v"]}`},
		{in: "${metadata.name}", want: "api"},
		{in: `${metadata.annotations.a\.b/c}`, want: "d"},
		{in: "$${x}", want: "${x}"},
		{in: "$$", want: "$"},
		{in: "a$b", want: "a$b"},
		{in: "$", want: "$"},
		{in: "${unterminated", want: "${unterminated"},
		{in: "${}", wantErr: true},
		{in: "${resources.nope.x}", wantErr: true},
		{in: "${resources.db.missing}", wantErr: true},
		{in: "${other.x}", wantErr: true},
	}
	for _, tt := range tests {
		got, err := substituteString(tt.in, lookup)
		if (err != nil) != tt.wantErr {
			t.Errorf("%q: error %v, wantErr %v", tt.in, err, tt.wantErr)
			continue
		}
		if got != tt.want {
			t.Errorf("%q = %q, want %q", tt.in, got, tt.want)
		}
		// Outside the escaped-placeholder corner, score-go agrees.
		if sg, sgErr := framework.SubstituteString(tt.in, lookup); (sgErr == nil) != (err == nil) || sg != got && err == nil {
			t.Errorf("%q: score-go gives %q, %v; we give %q, %v", tt.in, sg, sgErr, got, err)
		}
	}
}
