package envtree

import (
	"bytes"
	"testing"

	"github.com/scorebot/scorebot/internal/render/manifest"
)

func TestMarshalMatchesManifest(t *testing.T) {
	docs := []string{
		`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c","namespace":"n","labels":{"a10":"x","a9":"y","A":"z","_":"w"}},
		  "data":{"multi":"line one\nline two\n","trailing":"no newline\nat end","yes":"yes","no":"off","num":"0644","float":"1.0","null":"null",
		  "colon":"a: b","hash":"# not a comment","empty":"","space":" lead","unicode":"héllo ✓","tab":"a\tb","quote":"'\"","dash":"- x","star":"*x","amp":"&x","braces":"{a}","date":"2001-12-14"}}`,
		`{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d"},"spec":{"replicas":3,"minReadySeconds":0,"x":1.5,"big":12345678901,"f":3.0,"tiny":1e-7,"huge":1e21,
		  "neg":-2,"t":true,"n":null,"list":[],"obj":{},"nested":[[1,2],{"a":[{"b":null}]}],"template":{"spec":{"containers":[{"name":"m","image":"nginx","args":["--a=1","$(VAR)","${x}"]}]}}}}`,
	}
	for _, d := range docs {
		objs, err := manifest.Parse([]byte(d), "test")
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range objs {
			want, err := manifest.Marshal(o)
			if err != nil {
				t.Fatal(err)
			}
			got, err := marshal(o)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(want, got) {
				t.Errorf("marshal differs from manifest.Marshal:\nwant:\n%s\ngot:\n%s", want, got)
			}
		}
	}
}
