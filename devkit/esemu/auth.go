package esemu

import (
	"crypto/subtle"
	"net/http"
)

// authorized enforces HTTP basic auth like ES security does, answering 401
// with ES's security_exception body and challenge headers.
func (s *Server) authorized(w http.ResponseWriter, r *http.Request) bool {
	if s.cfg.Username == "" {
		return true
	}
	user, pass, ok := r.BasicAuth()
	if ok && subtle.ConstantTimeCompare([]byte(user), []byte(s.cfg.Username)) == 1 &&
		subtle.ConstantTimeCompare([]byte(pass), []byte(s.cfg.Password)) == 1 {
		return true
	}
	drain(r)
	challenge := []string{`Basic realm="security" charset="UTF-8"`, "ApiKey"}
	var e *esError
	if ok {
		e = newError(http.StatusUnauthorized, "security_exception", "unable to authenticate user [%s] for REST request [%s]", user, r.URL.RequestURI())
	} else {
		e = newError(http.StatusUnauthorized, "security_exception", "missing authentication credentials for REST request [%s]", r.URL.RequestURI())
	}
	e.with("header", map[string][]string{"WWW-Authenticate": challenge})
	for _, c := range challenge {
		w.Header().Add("WWW-Authenticate", c)
	}
	writeError(w, e)
	return false
}
