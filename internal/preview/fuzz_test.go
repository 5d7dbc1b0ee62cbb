package preview

import (
	"fmt"
	"strings"
	"testing"
)

// FuzzComment feeds random file contents, paths, names and errors through the diff and the
// fitting: every comment, check summary and outdated body must stay under its limit with
// balanced fences and <details>.
func FuzzComment(f *testing.F) {
	f.Add("apps/dev/a/x.yaml", "a: 1\n", "a: 2\n", "dev", "app", "", uint16(1), uint16(1))
	f.Add("p", "```\n````\n", "~~~\n`````` x\n", "e|v", "<b>", "boom\n```", uint16(3), uint16(40))
	f.Add("<details>", "</details>\n", "<summary>\n", "</summary>", "a`b", "", uint16(400), uint16(200))
	f.Add("s.yaml", "", "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData: {k: v}\n", "prod", "x", "", uint16(2), uint16(2000))
	f.Add("\xff\x00", "\xfe", "ok\n", "\xff", "\x00", "\xff", uint16(5), uint16(5))
	f.Fuzz(func(t *testing.T, path, oldText, newText, env, app, problem string, files, repeat uint16) {
		nFiles := int(files%300) + 1
		rep := int(repeat%1000) + 1
		oldBig := strings.Repeat(oldText, rep)
		newBig := strings.Repeat(newText, rep)
		cur, ren := map[string][]byte{}, map[string][]byte{}
		for i := range nFiles {
			p := fmt.Sprintf("%s/%d", path, i)
			if i%3 != 1 {
				cur[p] = []byte(oldBig)
			}
			if i%3 != 2 {
				ren[p] = []byte(newBig + fmt.Sprint(i))
			}
		}
		envs := []Env{
			{Name: env, Current: cur, Rendered: ren},
			{Name: env + "2", Current: ren, Rendered: cur},
		}
		if problem != "" {
			envs = append(envs, Env{Name: env + "3", Problem: &Problem{File: path, Line: 1, Field: app, Message: strings.Repeat(problem, rep), Fix: problem}})
		}
		p := Build(Request{Repo: app + "/" + env, PR: 1, App: app, HeadCommit: path, RulesCommit: newText, Envs: envs})
		body := p.Comment()
		if err := checkMarkdown(body, MaxCommentLen); err != nil {
			t.Fatalf("comment: %v", err)
		}
		if !strings.HasPrefix(body, Marker) {
			t.Fatal("comment does not start with the marker")
		}
		if err := checkMarkdown(Outdated(body, "merged"), MaxCommentLen); err != nil {
			t.Fatalf("outdated: %v", err)
		}
		_, summary, _ := p.CheckRun()
		if err := checkMarkdown(summary, MaxCheckLen); err != nil {
			t.Fatalf("check: %v", err)
		}
		rp := BuildRules(RulesRequest{Repo: app, HeadCommit: path, Apps: []AppEnvs{{App: app, Envs: envs}, {App: env, Envs: envs}}})
		if err := checkMarkdown(rp.Comment(), MaxCommentLen); err != nil {
			t.Fatalf("rules comment: %v", err)
		}
		_, summary, _ = rp.CheckRun()
		if err := checkMarkdown(summary, MaxCheckLen); err != nil {
			t.Fatalf("rules check: %v", err)
		}
	})
}
