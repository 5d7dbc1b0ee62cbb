package goldenfile

import (
	"strings"
	"testing"
)

func TestFirstDiff(t *testing.T) {
	for _, tt := range []struct{ want, got, says string }{
		{"a\nb\nc", "a\nB\nc", "line 2"},
		{"a\nb", "a\nb\nc", "line 3"},
		{"a\n", "a\n\n", "same lines, different bytes"},
	} {
		if got := FirstDiff([]byte(tt.want), []byte(tt.got)); !strings.Contains(got, tt.says) {
			t.Errorf("FirstDiff(%q, %q) = %q, want it to say %q", tt.want, tt.got, got, tt.says)
		}
	}
}
