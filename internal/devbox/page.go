package devbox

import "net/http"

func (s *Sandbox) servePage(w http.ResponseWriter, r *http.Request) {}
