package secretref

import (
	"reflect"
	"testing"
)

func TestSplit(t *testing.T) {
	tests := []struct {
		in      string
		want    []Part
		wantErr bool
	}{
		{in: "", want: nil},
		{in: "plain", want: []Part{{Text: "plain"}}},
		{in: Encode("db-creds", "password"), want: []Part{{Ref: &Ref{Name: "db-creds", Key: "password"}}}},
		{
			in: "postgres://u:" + Encode("pg", "pw") + "@host:5432/db",
			want: []Part{
				{Text: "postgres://u:"},
				{Ref: &Ref{Name: "pg", Key: "pw"}},
				{Text: "@host:5432/db"},
			},
		},
		{in: "🔐💬nounderscore💬🔐", wantErr: true},
		{in: "x 🔐💬a_b", wantErr: true},
	}
	for _, tt := range tests {
		got, err := Split(tt.in)
		if (err != nil) != tt.wantErr {
			t.Fatalf("Split(%q) error = %v, wantErr %v", tt.in, err, tt.wantErr)
		}
		if !tt.wantErr && !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Split(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
}

func TestWhole(t *testing.T) {
	if r, ok := Whole(Encode("a", "b_c")); !ok || r != (Ref{Name: "a", Key: "b_c"}) {
		t.Errorf("Whole = %+v, %v", r, ok)
	}
	if _, ok := Whole("x" + Encode("a", "b")); ok {
		t.Error("Whole accepted a mixed string")
	}
}
