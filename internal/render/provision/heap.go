package provision

import (
	"container/heap"

	"github.com/score-spec/score-go/framework"
)

// uidHeap is a min-heap of resource uids: the ready set of the topological sort.
type uidHeap struct{ s uidSlice }

func (h *uidHeap) push(u framework.ResourceUid) { heap.Push(&h.s, u) }
func (h *uidHeap) pop() framework.ResourceUid   { return heap.Pop(&h.s).(framework.ResourceUid) }
func (h *uidHeap) len() int                     { return len(h.s) }

type uidSlice []framework.ResourceUid

func (s uidSlice) Len() int           { return len(s) }
func (s uidSlice) Less(i, j int) bool { return s[i] < s[j] }
func (s uidSlice) Swap(i, j int)      { s[i], s[j] = s[j], s[i] }
func (s *uidSlice) Push(x any)        { *s = append(*s, x.(framework.ResourceUid)) }
func (s *uidSlice) Pop() any {
	old := *s
	x := old[len(old)-1]
	*s = old[:len(old)-1]
	return x
}
